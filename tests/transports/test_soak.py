"""Load: many concurrent streams against the stand-in server, nothing lost or leaked.

Each stream's reply is numbered tokens, one per chunk, so that a lost, repeated or
reordered chunk shows. The fast form (1,000 concurrent streams per backend) runs with
the suite; ``PURAI_SOAK_ROUNDS=20`` makes it a long soak (see docs/reliability.md).
"""

from __future__ import annotations

import gc
import os
import resource
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import trio

from purai_proto import ClientConnection
from purai_transports._core.exchange import Exchange
from purai_transports.anyio import AsyncClient
from purai_transports.server import BackgroundServer, ServerConfig
from purai_transports.trio import TrioClient

pytestmark = pytest.mark.slow  # a third of the suite's time; CI runs it

STREAMS = 1_000
TOKENS = 20
REPLY = "".join(f"t{i:03d} " for i in range(TOKENS))  # 5 characters a token
ROUNDS = int(os.environ.get("PURAI_SOAK_ROUNDS", "1"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors() -> Iterator[None]:
    # Each stream holds a client and a server socket, both in this process.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 4 * STREAMS + 256)
    if wanted < 2 * STREAMS + 64:
        pytest.skip(f"the file descriptor limit ({hard}) is too low for {STREAMS} streams")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    config = ServerConfig(quiet=True, reply=REPLY, chunk_size=5)
    with BackgroundServer(config, backend="trio") as running:
        yield running


async def one_stream(client: Any, number: int, results: list[list[str]]) -> None:
    messages = [{"role": "user", "content": f"stream {number}"}]
    async with client.stream(model="m", messages=messages, accumulate=False) as stream:
        results[number] = [chunk.text async for chunk in stream]


async def soak(client_class: Any, base_url: str, spawn: Any) -> list[list[str]]:
    """Run STREAMS streams at once through one client; return each one's chunks."""
    results: list[list[str]] = [[] for _ in range(STREAMS)]
    async with client_class(base_url, max_connections=STREAMS, max_keepalive=STREAMS) as client:
        await spawn(client, results)
    return results


async def spawn_anyio(client: Any, results: list[list[str]]) -> None:
    async with anyio.create_task_group() as group:
        for number in range(STREAMS):
            group.start_soon(one_stream, client, number, results)


async def spawn_trio(client: Any, results: list[list[str]]) -> None:
    async with trio.open_nursery() as nursery:
        for number in range(STREAMS):
            nursery.start_soon(one_stream, client, number, results)


def wait_for_fds(limit: int) -> None:
    deadline = time.monotonic() + 10
    while open_fds() > limit and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds() <= limit, f"{open_fds() - limit} file descriptors left open"


RUNNERS: dict[str, Callable[[str], list[list[str]]]] = {
    "anyio-asyncio": lambda url: anyio.run(soak, AsyncClient, url, spawn_anyio),
    "anyio-trio": lambda url: anyio.run(soak, AsyncClient, url, spawn_anyio, backend="trio"),
    "trio": lambda url: trio.run(soak, TrioClient, url, spawn_trio),
}
EXPECTED = [f"t{i:03d} " for i in range(TOKENS)]


@pytest.mark.parametrize("flavour", list(RUNNERS))
def test_a_thousand_concurrent_streams_lose_and_leak_nothing(
    server: BackgroundServer, flavour: str
) -> None:
    run = RUNNERS[flavour]
    run(server.base_url)  # warm up: imports, the server's first connections
    gc.collect()
    fds, rss = open_fds(), rss_bytes()
    for _ in range(ROUNDS):
        results = run(server.base_url)
        # Every chunk of every stream arrived once, in order.
        assert all(chunks == EXPECTED for chunks in results)
    gc.collect()
    # The clients closed every connection. The server, in its own thread, closes its
    # side when it sees the client's close, a moment later: wait for that (bounded).
    wait_for_fds(fds)
    # No client state outlives its client: counted exactly, whatever the allocator
    # does with freed memory; RSS then only catches gross growth.
    leftovers = [o for o in gc.get_objects() if isinstance(o, (ClientConnection, Exchange))]
    assert leftovers == []
    growth = rss_bytes() - rss
    assert growth < 32 * 1024 * 1024, f"RSS grew {growth / 1e6:.1f} MB over {ROUNDS} rounds"
