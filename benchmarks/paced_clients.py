"""The clients the concurrency suite drives, each in a measured subprocess of its own.

One child process runs one client: a warm-up round that opens every connection, the
measured rounds on those pooled connections, then the time to first chunk, on a fresh
client and on a pooled connection. It prints one JSON report on its last line.

Every client reads the same server-sent events (the replay server's
``/v1/chat/completions``) and decodes every event into a ``ChatCompletionChunk``:

* purai's ``AsyncClient`` on asyncio and on trio, and ``TrioClient``;
* aiohttp, its body split on blank lines by hand and each ``data:`` decoded by msgspec
  (what someone who wants speed writes), and httpx with httpx-sse, each event's data
  decoded by msgspec: both from :mod:`benchmarks.http_peers`, as the end-to-end suite
  runs them.

A round starts the streams spread evenly over one chunk interval, as independent users
would, so that a wake-up usually finds one stream's chunk rather than all of them.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from purai_proto import ChatCompletionChunk

from ._common import peak_rss
from .http_peers import (
    MESSAGES,
    aiohttp_chunks,
    aiohttp_session,
    httpx_async_chunks,
    httpx_async_client,
)

__all__ = ["CLIENTS", "run_child"]

CLIENTS = {
    "purai-asyncio": "purai AsyncClient, asyncio",
    "purai-anyio-trio": "purai AsyncClient, trio",
    "purai-trio": "purai TrioClient",
    "aiohttp": "aiohttp + split + msgspec",
    "httpx": "httpx + httpx-sse + msgspec",
}
PATH = "/v1/chat/completions"
#: Streams timed for the time to first chunk, fresh and pooled.
FIRST_CHUNK_TIMES = 20

#: What every client opens a stream with: (client, path) -> the chunks.
StreamFn = Callable[[Any, str], AsyncIterator[ChatCompletionChunk]]


# --- purai --------------------------------------------------------------------------


def _purai_client(name: str, url: str, streams: int) -> Any:
    from purai_transports.anyio import AsyncClient
    from purai_transports.trio import TrioClient

    client_type = TrioClient if name == "purai-trio" else AsyncClient
    return client_type(
        url,
        api_key="bench",
        max_connections=streams,
        max_keepalive=streams,
        keepalive_expiry=600.0,
        timeout=60.0,
    )


async def _purai_stream(client: Any, path: str) -> AsyncIterator[ChatCompletionChunk]:
    async with client.stream(model="bench", messages=MESSAGES, path=path) as stream:
        async for chunk in stream:
            yield chunk


def _client_and_stream(name: str, url: str, streams: int) -> tuple[Any, StreamFn]:
    """A new client of kind ``name`` (an async context manager) and how it streams."""
    if name == "aiohttp":
        return aiohttp_session(url, streams), aiohttp_chunks
    if name == "httpx":
        return httpx_async_client(url, streams), httpx_async_chunks
    return _purai_client(name, url, streams), _purai_stream


# --- the measurements ---------------------------------------------------------------


async def _count(stream: StreamFn, client: Any, path: str) -> int:
    n = 0
    async for _ in stream(client, path):
        n += 1
    return n


async def _round(stream: StreamFn, client: Any, streams: int, path: str, every: float) -> int:
    """Every stream, started spread over ``every`` seconds; the chunks that arrived
    (checked against the expected count by the parent)."""
    counts = [0] * streams

    async def one(i: int) -> None:
        await anyio.sleep(every * i / streams)
        counts[i] = await _count(stream, client, path)

    async with anyio.create_task_group() as tg:
        for i in range(streams):
            tg.start_soon(one, i)
    return sum(counts)


async def _first_chunk(stream: StreamFn, client: Any, path: str) -> float:
    """Seconds from asking to the first chunk; the rest of the reply is read too."""
    started = time.perf_counter()
    chunks = stream(client, path)
    await chunks.__anext__()
    took = time.perf_counter() - started
    async for _ in chunks:
        pass
    return took


async def _measure(name: str, url: str, args: Any) -> dict[str, Any]:
    paced = f"{PATH}?objects={args.chunks}&every_ms={args.every_ms}"
    every = args.every_ms / 1000
    client, stream = _client_and_stream(name, url, args.streams)
    rounds: list[dict[str, float]] = []
    async with client:
        await _round(stream, client, args.streams, paced, every)  # connects: not measured
        for _ in range(args.rounds):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            chunks = await _round(stream, client, args.streams, paced, every)
            rounds.append(
                {
                    "wall": time.perf_counter() - wall,
                    "cpu": time.process_time() - cpu,
                    "chunks": chunks,
                }
            )
        peak = peak_rss()
        short = f"{PATH}?objects=2"
        pooled = [await _first_chunk(stream, client, short) for _ in range(FIRST_CHUNK_TIMES)]
    fresh = []
    for _ in range(FIRST_CHUNK_TIMES):
        started = time.perf_counter()
        client, stream = _client_and_stream(name, url, 1)
        async with client:
            made = time.perf_counter() - started
            fresh.append(made + await _first_chunk(stream, client, short))
    return {
        "rounds": rounds,
        "peak_rss": peak,
        "first_chunk_fresh_s": statistics.median(fresh),
        "first_chunk_pooled_s": statistics.median(pooled),
    }


def run_child(name: str, url: str, args: Any) -> dict[str, Any]:
    """Measure client ``name`` on its own event loop; its report."""
    if name in ("purai-anyio-trio", "purai-trio"):
        import trio

        return trio.run(_measure, name, url, args)
    return anyio.run(_measure, name, url, args, backend="asyncio")
