"""The clients the concurrency suite drives, each in a measured subprocess of its own.

One child process runs one client: a warm-up round that opens every connection, the
measured rounds on those pooled connections, then the time to first chunk, on a fresh
client and on a pooled connection. It prints one JSON report on its last line.

Every client reads the same server-sent events (the replay server's
``/v1/chat/completions``) and decodes every event into a ``ChatCompletionChunk``:

* purai's ``AsyncClient`` on asyncio and on trio, and ``TrioClient``;
* aiohttp, its body split on blank lines by hand and each ``data:`` decoded by msgspec
  (what someone who wants speed writes);
* httpx with httpx-sse, each event's data decoded by msgspec.

A round starts the streams spread evenly over one chunk interval, as independent users
would, so that a wake-up usually finds one stream's chunk rather than all of them.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import msgspec

from purai_proto import ChatCompletionChunk

__all__ = ["CLIENTS", "run_child"]

CLIENTS = {
    "purai-asyncio": "purai AsyncClient, asyncio",
    "purai-anyio-trio": "purai AsyncClient, trio",
    "purai-trio": "purai TrioClient",
    "aiohttp": "aiohttp + split + msgspec",
    "httpx": "httpx + httpx-sse + msgspec",
}
PATH = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "one of many"}]
#: Streams timed for the time to first chunk, fresh and pooled.
FIRST_CHUNK_TIMES = 20

_decode_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode
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


# --- aiohttp ------------------------------------------------------------------------


def _aiohttp_client(url: str, streams: int) -> Any:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=streams, keepalive_timeout=600.0)
    return aiohttp.ClientSession(url, connector=connector)


async def _aiohttp_stream(session: Any, path: str) -> AsyncIterator[ChatCompletionChunk]:
    body = {"model": "bench", "messages": MESSAGES, "stream": True}
    headers = {"Authorization": "Bearer bench"}
    async with session.post(path, json=body, headers=headers) as response:
        response.raise_for_status()
        buffer = b""
        async for data in response.content.iter_any():
            buffer += data
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                payload = event.removeprefix(b"data: ")
                if payload != b"[DONE]":
                    yield _decode_chunk(payload)


# --- httpx --------------------------------------------------------------------------


def _httpx_client(url: str, streams: int) -> Any:
    import httpx

    limits = httpx.Limits(
        max_connections=streams, max_keepalive_connections=streams, keepalive_expiry=600.0
    )
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0)


async def _httpx_stream(client: Any, path: str) -> AsyncIterator[ChatCompletionChunk]:
    from httpx_sse import aconnect_sse

    body = {"model": "bench", "messages": MESSAGES, "stream": True}
    headers = {"Authorization": "Bearer bench"}
    async with aconnect_sse(client, "POST", path, json=body, headers=headers) as source:
        async for event in source.aiter_sse():
            if event.data != "[DONE]":
                yield _decode_chunk(event.data)


def _client_and_stream(name: str, url: str, streams: int) -> tuple[Any, StreamFn]:
    """A new client of kind ``name`` (an async context manager) and how it streams."""
    if name == "aiohttp":
        return _aiohttp_client(url, streams), _aiohttp_stream
    if name == "httpx":
        return _httpx_client(url, streams), _httpx_stream
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
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
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
