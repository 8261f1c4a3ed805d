"""The HTTP clients people pick for speed, reading server-sent events as they would.

The end-to-end and concurrency suites measure purai beside these, so each is written
the way someone who cares about speed writes it, and each decodes every event into the
same ``ChatCompletionChunk`` with msgspec, as purai does:

* aiohttp (async) and requests (blocking): the body as it arrives, split on blank
  lines by hand (:func:`split_events`), each ``data:`` payload decoded by msgspec;
* httpx with httpx-sse, sync and async: the events httpx-sse parses, each event's data
  decoded by msgspec.

Every function here takes a client made by the caller and a path on the replay
server's ``/v1/chat/completions`` (query string included), and yields the chunks of
one reply. The peers are imported when first used: a suite runs without them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk

__all__ = [
    "MESSAGES",
    "aiohttp_chunks",
    "aiohttp_session",
    "httpx_async_chunks",
    "httpx_async_client",
    "httpx_chunks",
    "requests_chunks",
    "split_events",
]

MESSAGES = [{"role": "user", "content": "Stream the benchmark corpus."}]
BODY = {"model": "bench", "messages": MESSAGES, "stream": True}
HEADERS = {"Authorization": "Bearer bench"}
DONE = b"[DONE]"

_decode_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode


def split_events(buffer: bytes, data: bytes) -> tuple[list[ChatCompletionChunk], bytes]:
    """The chunks in the complete events of ``buffer + data``, and the rest.

    The hand-written framing of the aiohttp and requests rows: a split on blank lines,
    ``data: `` cut off, ``[DONE]`` skipped. It assumes what the replay server sends
    (one ``data:`` line per event, LF line ends), which is what makes it fast.
    """
    *events, rest = (buffer + data).split(b"\n\n")
    return [
        _decode_chunk(payload)
        for payload in (event.removeprefix(b"data: ") for event in events)
        if payload != DONE
    ], rest


# --- blocking -------------------------------------------------------------------------


def requests_chunks(session: Any, url: str) -> Iterator[ChatCompletionChunk]:
    """requests: ``iter_content(chunk_size=None)``, one HTTP chunk per piece."""
    with session.post(url, json=BODY, headers=HEADERS, stream=True) as response:
        response.raise_for_status()
        buffer = b""
        for data in response.iter_content(chunk_size=None):
            chunks, buffer = split_events(buffer, data)
            yield from chunks


def httpx_chunks(client: Any, path: str) -> Iterator[ChatCompletionChunk]:
    """httpx's sync client with httpx-sse's ``connect_sse``."""
    from httpx_sse import connect_sse

    with connect_sse(client, "POST", path, json=BODY, headers=HEADERS) as source:
        for event in source.iter_sse():
            if event.data != "[DONE]":
                yield _decode_chunk(event.data)


# --- async ----------------------------------------------------------------------------


def aiohttp_session(url: str, connections: int) -> Any:
    """An aiohttp session on ``url`` keeping up to ``connections`` connections."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=600.0)
    return aiohttp.ClientSession(url, connector=connector)


async def aiohttp_chunks(session: Any, path: str) -> AsyncIterator[ChatCompletionChunk]:
    """aiohttp: ``content.iter_any()``, whatever has arrived per piece."""
    async with session.post(path, json=BODY, headers=HEADERS) as response:
        response.raise_for_status()
        buffer = b""
        async for data in response.content.iter_any():
            chunks, buffer = split_events(buffer, data)
            for chunk in chunks:
                yield chunk


def httpx_async_client(url: str, connections: int) -> Any:
    """An httpx ``AsyncClient`` on ``url`` keeping up to ``connections`` connections."""
    import httpx

    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=600.0,
    )
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0)


async def httpx_async_chunks(client: Any, path: str) -> AsyncIterator[ChatCompletionChunk]:
    """httpx's ``AsyncClient`` with httpx-sse's ``aconnect_sse``."""
    from httpx_sse import aconnect_sse

    async with aconnect_sse(client, "POST", path, json=BODY, headers=HEADERS) as source:
        async for event in source.aiter_sse():
            if event.data != "[DONE]":
                yield _decode_chunk(event.data)
