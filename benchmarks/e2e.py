"""End to end over loopback: every purai client beside openai-python, httpx, aiohttp and
requests, and the floor, on the same chunks.

Usage::

    python -m benchmarks.e2e [--quick] [--objects N] [--openai-objects N] [--repeat R]
                             [--json PATH]

A replay server (:mod:`benchmarks.replay`, in a process of its own) answers every
request with the same pre-built stream of corpus objects, one HTTP chunk per object:
back to back for purai's clients on PurAI's path, as server-sent events for
openai-python and the other peers on ``/v1/chat/completions``. Each row is one client
reading the whole stream; its figure is chunks per second, the median of the repeats.

The peers are what users pick for speed, written as someone who cares about it would
write them (:mod:`benchmarks.http_peers`): httpx with httpx-sse, requests and aiohttp
with a split on blank lines by hand, every event decoded into the same
``ChatCompletionChunk`` by msgspec. purai's blocking client and its ``AsyncClient`` on
asyncio also read the server-sent events, so that each peer has a purai row reading
the very same bytes beside it.

Why it is built this way:

* The server is another process, so on a 2-core machine the client has a core of its
  own and the server does no per-chunk work; a row with the server as a thread of the
  client's process measures how much sharing the GIL would have cost instead.
* Each timed run makes a fresh client, streams a short warm-up reply on it (the
  connection is then open and reused, and lazy imports are done), collects garbage,
  then times one whole stream. The event loops start outside the timing.
* Repeats go round-robin over the rows, so a slow spell of the machine spreads over
  all of them; the first round is a warm-up and is not counted.
* openai-python is about twenty times slower than purai here, so it reads a prefix of
  the same stream (``--openai-objects``): per-chunk cost dominates a stream of
  thousands of chunks, so its rate does not depend on the length.
* Every run counts its chunks: a client that drops or invents one fails the suite.
* The floor is a raw socket reading the same bytes in 64 KiB reads with no parsing at
  all; ``ChunkDecoder`` alone, fed one object per call with no I/O, is the decoder's
  share (the issue's target: the blocking client at half its rate or better).
* The clients read responses with the default HTTP parser (httptools when it is
  installed, else h11); one more row runs the blocking client with h11 forced, so the
  two parsers are compared in the same run.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from purai_proto import ChatCompletionChunk, ChunkDecoder, HttpParserName, httptools_available
from purai_transports.bench.corpus import DEFAULT_SEED, realistic

from . import construction
from ._common import (
    CountMismatch,
    Size,
    format_table,
    machine_info,
    machine_line,
    median,
    parse_suite_args,
    save_results,
    timed,
)
from .http_peers import MESSAGES
from .replay import ReplayServer, count_chunks_request, purai_reply

__all__ = ["run"]

DEFAULT_OBJECTS = 20_000
DEFAULT_OPENAI_OBJECTS = 5_000
DEFAULT_REPEAT = 7
QUICK_OBJECTS = 5_000
QUICK_OPENAI_OBJECTS = 1_000
QUICK_REPEAT = 3
WARMUP_OBJECTS = 200

PURAI_PATH = "/openai/chat/completions"
OPENAI_PATH = "/v1/chat/completions"

BLOCKING = "purai blocking Client"
BLOCKING_H11 = "purai blocking Client, h11 parser"
OPENAI = "openai-python sync client"
HTTPX = "httpx + httpx-sse + msgspec (sync)"
REQUESTS = "requests + split + msgspec"
AIOHTTP = "aiohttp + split + msgspec"
ASYNCIO = "purai AsyncClient (anyio on asyncio)"
ASYNCIO_SSE = ASYNCIO + " on SSE"
ANYIO_TRIO = "purai AsyncClient (anyio on trio)"
TRIO = "purai TrioClient"
FLOOR = "raw socket read, no parsing (the floor)"
DECODER = "ChunkDecoder alone, one object per feed"

Measure = Callable[[], tuple[float, float, int]]


@dataclass
class Contender:
    """One row: a client, what it reads, and a function timing one run of it."""

    name: str
    stream: str
    objects: int
    fn: Measure
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


@dataclass
class Row:
    """One line of the table, as saved to JSON."""

    client: str
    stream: str
    objects: int
    median_s: float
    chunks_per_s: float
    us_per_chunk: float
    cpu_share: float
    ratio_to_openai: float | None
    ratio_to_blocking: float | None
    times_s: list[float]


def _path(base: str, objects: int) -> str:
    return f"{base}?objects={objects}"


# --- one timed run per client -------------------------------------------------------


def default_parser() -> str:
    """The HTTP parser a client uses when not told: httptools when importable."""
    return "httptools" if httptools_available() else "h11"


def blocking_fn(url: str, path: str, objects: int, http_parser: HttpParserName = "auto") -> Measure:
    """purai's blocking client on stdlib sockets, with ``http_parser`` if given."""
    from purai_transports.blocking import Client

    def consume(client: Client, n: int) -> int:
        count = 0
        with client.stream(model="bench", messages=MESSAGES, path=_path(path, n)) as stream:
            for _ in stream:
                count += 1
        return count

    def fn() -> tuple[float, float, int]:
        with Client(url, api_key="bench", http_parser=http_parser) as client:
            consume(client, WARMUP_OBJECTS)
            return timed(lambda: consume(client, objects))

    return fn


async def _consume_async(client: Any, path: str) -> int:
    count = 0
    async with client.stream(model="bench", messages=MESSAGES, path=path) as stream:
        async for _ in stream:
            count += 1
    return count


async def _timed_async(
    consume: Callable[[str], Awaitable[int]], path: str, objects: int
) -> tuple[float, float, int]:
    """Inside a running loop, on an open client: a warm-up stream, then one timed."""
    await consume(_path(path, WARMUP_OBJECTS))
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = await consume(_path(path, objects))
    return time.perf_counter() - wall, time.process_time() - cpu, count


async def _async_run(
    client_type: Any, url: str, objects: int, path: str = PURAI_PATH
) -> tuple[float, float, int]:
    """Inside a running loop: warm up a purai client, then time one whole stream."""
    async with client_type(url, api_key="bench") as client:
        return await _timed_async(partial(_consume_async, client), path, objects)


def anyio_fn(url: str, objects: int, backend: str, path: str = PURAI_PATH) -> Measure:
    """purai's AsyncClient, on anyio's ``backend`` ("asyncio" or "trio")."""
    import anyio

    from purai_transports.anyio import AsyncClient

    def fn() -> tuple[float, float, int]:
        return anyio.run(_async_run, AsyncClient, url, objects, path, backend=backend)

    return fn


def trio_fn(url: str, objects: int) -> Measure:
    """purai's TrioClient, on native trio streams."""
    import trio

    from purai_transports.trio import TrioClient

    def fn() -> tuple[float, float, int]:
        return trio.run(_async_run, TrioClient, url, objects)

    return fn


def openai_fn(url: str, objects: int) -> Measure:
    """openai-python's sync client reading the same objects as server-sent events."""
    import openai

    def consume(client: Any, n: int) -> int:
        count = 0
        stream = client.chat.completions.create(
            model="bench", messages=MESSAGES, stream=True, extra_query={"objects": n}
        )
        for _ in stream:
            count += 1
        return count

    def fn() -> tuple[float, float, int]:
        with openai.OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0) as client:
            consume(client, WARMUP_OBJECTS)
            return timed(lambda: consume(client, objects))

    return fn


def httpx_fn(url: str, objects: int) -> Measure:
    """httpx's sync client with httpx-sse, each event decoded by msgspec."""
    import httpx

    from .http_peers import httpx_chunks

    def consume(client: httpx.Client, n: int) -> int:
        return sum(1 for _ in httpx_chunks(client, _path(OPENAI_PATH, n)))

    def fn() -> tuple[float, float, int]:
        with httpx.Client(base_url=url, timeout=60.0) as client:
            consume(client, WARMUP_OBJECTS)
            return timed(lambda: consume(client, objects))

    return fn


def requests_fn(url: str, objects: int) -> Measure:
    """requests, its body split on blank lines by hand, each event decoded by msgspec."""
    import requests

    from .http_peers import requests_chunks

    def consume(session: requests.Session, n: int) -> int:
        return sum(1 for _ in requests_chunks(session, url + _path(OPENAI_PATH, n)))

    def fn() -> tuple[float, float, int]:
        with requests.Session() as session:
            consume(session, WARMUP_OBJECTS)
            return timed(lambda: consume(session, objects))

    return fn


def aiohttp_fn(url: str, objects: int) -> Measure:
    """aiohttp on asyncio, its body split on blank lines by hand, decoded by msgspec."""
    import asyncio

    from .http_peers import aiohttp_chunks, aiohttp_session

    async def run() -> tuple[float, float, int]:
        async with aiohttp_session(url, 1) as session:

            async def consume(path: str) -> int:
                n = 0
                async for _ in aiohttp_chunks(session, path):
                    n += 1
                return n

            return await _timed_async(consume, OPENAI_PATH, objects)

    def fn() -> tuple[float, float, int]:
        return asyncio.run(run())

    return fn


def floor_fn(url: str, objects: list[bytes]) -> Measure:
    """A socket reading the reply's bytes in 64 KiB reads and nothing else.

    It knows the reply's length beforehand, so it stops without parsing a byte: no
    client can read the same bytes faster from Python.
    """
    port = int(url.rsplit(":", 1)[1])
    n = len(objects)
    request = count_chunks_request(_path(PURAI_PATH, n))
    warmup = count_chunks_request(_path(PURAI_PATH, WARMUP_OBJECTS))
    size = len(purai_reply(objects))
    warm_size = len(purai_reply(objects[:WARMUP_OBJECTS]))

    def read(sock: socket.socket, n: int) -> int:
        recv = sock.recv
        got = 0
        while got < n:
            data = recv(65536)
            if not data:
                break
            got += len(data)
        return got

    def fn() -> tuple[float, float, int]:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(warmup)
            read(sock, warm_size)
            sock.sendall(request)
            wall, cpu, got = timed(lambda: read(sock, size))
        return wall, cpu, n if got == size else -1

    return fn


def decoder_fn(objects: list[bytes]) -> Measure:
    """``ChunkDecoder`` fed one object per call, as a live stream delivers them: no I/O."""

    def decode() -> int:
        decoder = ChunkDecoder(ChatCompletionChunk, framing="concatenated")
        feed = decoder.feed
        n = 0
        for obj in objects:
            n += len(feed(obj))
        return n + len(decoder.close())

    def fn() -> tuple[float, float, int]:
        return timed(decode)

    return fn


# --- the suite ----------------------------------------------------------------------


def build(
    url: str, thread_url: str, objects: list[bytes], openai_objects: int, notes: list[str]
) -> list[Contender]:
    """Every row, in the order of the table."""
    n = len(objects)
    notes.append(f"the purai clients read with the {default_parser()} parser unless a row says")
    rows = [
        Contender(FLOOR, "PurAI", n, floor_fn(url, objects)),
        Contender(DECODER, "no I/O", n, decoder_fn(objects)),
        Contender(BLOCKING, "PurAI", n, blocking_fn(url, PURAI_PATH, n)),
        Contender(BLOCKING_H11, "PurAI", n, blocking_fn(url, PURAI_PATH, n, "h11")),
        Contender(
            BLOCKING + ", server in a thread", "PurAI", n, blocking_fn(thread_url, PURAI_PATH, n)
        ),
        Contender(BLOCKING + " on SSE", "SSE", n, blocking_fn(url, OPENAI_PATH, n)),
        Contender(ASYNCIO, "PurAI", n, anyio_fn(url, n, "asyncio")),
        Contender(ANYIO_TRIO, "PurAI", n, anyio_fn(url, n, "trio")),
        Contender(TRIO, "PurAI", n, trio_fn(url, n)),
        Contender(ASYNCIO_SSE, "SSE", n, anyio_fn(url, n, "asyncio", OPENAI_PATH)),
    ]
    peers: list[tuple[str, str, int, Callable[[], Measure]]] = [
        (OPENAI, "openai", openai_objects, lambda: openai_fn(url, openai_objects)),
        (HTTPX, "httpx_sse", n, lambda: httpx_fn(url, n)),
        (REQUESTS, "requests", n, lambda: requests_fn(url, n)),
        (AIOHTTP, "aiohttp", n, lambda: aiohttp_fn(url, n)),
    ]
    for name, module, count, make in peers:
        if importlib.util.find_spec(module) is None:
            notes.append(f"{module} is not installed: the row {name!r} is skipped")
        else:
            rows.append(Contender(name, "SSE", count, make()))
    return rows


def measure(contenders: list[Contender], repeat: int) -> None:
    """One warm-up round, then ``repeat`` rounds, round-robin; every count checked."""
    for round_ in range(repeat + 1):
        for c in contenders:
            wall, cpu, count = c.fn()
            if count != c.objects:
                raise CountMismatch(f"{c.name}: {count} chunks arrived, {c.objects} were sent")
            if round_:
                c.wall.append(wall)
                c.cpu.append(cpu)
        print(f"  round {round_}/{repeat} done", file=sys.stderr, flush=True)


def to_rows(contenders: list[Contender]) -> list[Row]:
    """Medians and ratios: to openai (issue 4: >= 15) and to the blocking client."""
    rates = {c.name: c.objects / median(c.wall) for c in contenders}
    openai_rate = rates.get(OPENAI)
    blocking_rate = rates[BLOCKING]
    rows = []
    for c in contenders:
        med = median(c.wall)
        rate = rates[c.name]
        rows.append(
            Row(
                client=c.name,
                stream=c.stream,
                objects=c.objects,
                median_s=med,
                chunks_per_s=rate,
                us_per_chunk=1e6 / rate,
                cpu_share=median(c.cpu) / med,
                ratio_to_openai=rate / openai_rate if openai_rate else None,
                ratio_to_blocking=rate / blocking_rate,
                times_s=c.wall,
            )
        )
    return rows


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = (
        "client",
        "stream",
        "chunks/run",
        "chunks/s",
        "µs/chunk",
        "CPU",
        "x openai",
        "x blocking",
    )

    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [
        (
            r.client,
            r.stream,
            f"{r.objects:,}",
            f"{r.chunks_per_s:,.0f}",
            f"{r.us_per_chunk:.2f}",
            f"{r.cpu_share:.0%}",
            ratio(r.ratio_to_openai),
            ratio(r.ratio_to_blocking),
        )
        for r in rows
    ]
    return format_table(header, lines, left=2)


def verdicts(rows: list[Row]) -> list[str]:
    """The issues' targets, each with the figure it is judged on."""
    by = {r.client: r for r in rows}
    blocking = by[BLOCKING]
    out = []
    if OPENAI in by:
        x = blocking.ratio_to_openai or 0.0
        out.append(f"blocking / openai = {x:.1f}x (issue 4 target >= 15x): {_met(x >= 15)}")
    for name in (ASYNCIO, ANYIO_TRIO, TRIO):
        x = by[name].ratio_to_blocking or 0.0
        out.append(
            f"{name} / blocking = {x:.2f} (issue 4 target >= {1 / 1.5:.2f}): {_met(x >= 1 / 1.5)}"
        )
    if BLOCKING_H11 in by:
        x = blocking.chunks_per_s / by[BLOCKING_H11].chunks_per_s
        out.append(f"blocking, default parser / blocking, h11 parser = {x:.2f}")
    x = blocking.chunks_per_s / by[DECODER].chunks_per_s
    out.append(f"blocking / ChunkDecoder alone = {x:.2f} (issue 6 target >= 0.5): {_met(x >= 0.5)}")
    x = by[BLOCKING + ", server in a thread"].chunks_per_s / blocking.chunks_per_s
    out.append(f"server in a thread / in a process = {x:.2f} (blocking client)")
    # The same server-sent events, purai beside the peer a user would pick instead.
    for ours, peer in (
        (BLOCKING + " on SSE", HTTPX),
        (BLOCKING + " on SSE", REQUESTS),
        (ASYNCIO_SSE, AIOHTTP),
    ):
        if peer in by:
            x = by[ours].chunks_per_s / by[peer].chunks_per_s
            out.append(f"{ours} / {peer} = {x:.2f}x, same SSE bytes")
    return out


def construction_verdicts(rows: list[construction.Construction]) -> list[str]:
    """Issue 16: a client for an http:// URL made in under 2 ms, the first included."""
    return [
        f"{r.client}: first made in {r.first_ms:.2f} ms (issue 16 target < 2 ms): "
        f"{_met(r.first_ms < 2)}"
        for r in rows
        if r.client.startswith("purai")
    ]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options, with ``--quick`` filling in whatever was not given explicitly."""
    return parse_suite_args(
        "e2e",
        "purai's clients against openai-python and the floor, over loopback.",
        argv,
        {
            "objects": Size(DEFAULT_OBJECTS, QUICK_OBJECTS, "chunks per stream"),
            "openai_objects": Size(
                DEFAULT_OPENAI_OBJECTS, QUICK_OPENAI_OBJECTS, "chunks per openai stream"
            ),
            "repeat": Size(DEFAULT_REPEAT, QUICK_REPEAT, "timed runs per row"),
        },
    )


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    args = parse_args(argv)
    notes: list[str] = []
    objects = realistic(args.objects)
    size = len(purai_reply(objects))
    print(f"\n## End to end: {args.objects:,} chunks per stream, {size / 1e6:.1f} MB on the wire")
    print(machine_line(machine_info()) + f"; median of {args.repeat} runs, round-robin")
    with ReplayServer(objects, "process") as server, ReplayServer(objects, "thread") as thread:
        contenders = build(server.url, thread.url, objects, args.openai_objects, notes)
        try:
            measure(contenders, args.repeat)
        except CountMismatch as exc:
            print(f"\nFAILED: {exc}", file=sys.stderr)
            return 1
    rows = to_rows(contenders)
    print(table(rows))
    print()
    for line in verdicts(rows):
        print(line)
    print(f"\n## Making a client: fresh interpreters, median of {args.repeat}")
    made = construction.measure(args.repeat, notes)
    print(construction.table(made))
    made_verdicts = construction_verdicts(made)
    for line in made_verdicts:
        print(line)
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    config = {
        "objects": args.objects,
        "openai_objects": args.openai_objects,
        "repeat": args.repeat,
        "seed": DEFAULT_SEED,
        "corpus": "realistic",
        "stream_bytes": size,
        "server": "replay server in its own process (one row: a thread of the client)",
    }
    save_results(
        args.json,
        "e2e",
        config,
        [asdict(r) for r in rows],
        notes,
        verdicts=verdicts(rows) + made_verdicts,
        construction=[asdict(r) for r in made],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
