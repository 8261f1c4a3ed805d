"""The stand-in server's streams: PurAI's as the seed shows it, SSE, NDJSON, gzip.

Over real loopback TCP, on asyncio and on trio, with the h11 client of
:mod:`tests.helpers.raw_client` (not the library's own), which keeps each HTTP chunk
apart.
"""

from __future__ import annotations

import zlib

import msgspec
import pytest

from purai_proto import ChunkDecoder
from tests.helpers.raw_client import SEED_TEXT, chat, decode, fetch, running, seed_objects, text_of


@pytest.mark.anyio
@pytest.mark.parametrize("company", ["openai", "third-party", "anthropic", "auto"])
async def test_seed_stream(company: str) -> None:
    async with running() as address:
        reply = await fetch(address, "POST", f"/{company}/chat/completions", chat())
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["transfer-encoding"] == "chunked"
    # One HTTP chunk per object, and the objects are the seed's, field for field.
    assert [msgspec.json.decode(piece) for piece in reply.pieces] == seed_objects()
    assert text_of(decode(reply.body, "concatenated")) == SEED_TEXT


@pytest.mark.anyio
async def test_sse_on_v1() -> None:
    async with running() as address:
        reply = await fetch(address, "POST", "/v1/chat/completions", chat())
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.body.endswith(b"data: [DONE]\n\n")
    assert all(piece.startswith(b"data: ") for piece in reply.pieces)
    chunks = decode(reply.body, "sse")
    assert text_of(chunks) == SEED_TEXT
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.provider is None for c in chunks)
    assert b"calledFunctions" not in reply.body


@pytest.mark.anyio
async def test_ndjson() -> None:
    async with running(ndjson=True) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
    assert reply.headers["content-type"] == "application/x-ndjson"
    assert all(piece.endswith(b"\n") and piece.count(b"\n") == 1 for piece in reply.pieces)
    assert text_of(decode(reply.body, "ndjson")) == SEED_TEXT


@pytest.mark.anyio
async def test_chunk_size_and_hard_text() -> None:
    async with running(chunk_size=1) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat("some code"))
    chunks = decode(reply.body, "concatenated")
    text = text_of(chunks)
    for hard in ("}{", "\\", '"', "\U0001f680"):
        assert hard in text
    assert len(chunks) == len(text)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/openai/chat/completions", "/v1/chat/completions"])
async def test_gzip(path: str) -> None:
    async with running(gzip=True) as address:
        reply = await fetch(address, "POST", path, chat(), [("Accept-Encoding", "gzip")])
    assert reply.headers["content-encoding"] == "gzip"
    # Each HTTP chunk decompresses, on its own, to whole objects: a flush per object.
    inflate = zlib.decompressobj(wbits=31)
    decoder = ChunkDecoder()
    chunks = []
    for piece in reply.pieces[:-1]:
        values = decoder.feed(inflate.decompress(piece))
        assert len(values) == 1
        chunks += values
    chunks += decoder.feed(inflate.decompress(reply.pieces[-1]) + inflate.flush())
    chunks += decoder.close()
    assert inflate.eof
    assert text_of(chunks) == SEED_TEXT


@pytest.mark.anyio
@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br, *;q=0", "deflate"])
async def test_gzip_only_when_accepted(accept: str | None) -> None:
    headers = [] if accept is None else [("Accept-Encoding", accept)]
    async with running(gzip=True) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat(), headers)
    assert "content-encoding" not in reply.headers
    assert text_of(decode(reply.body)) == SEED_TEXT


@pytest.mark.anyio
async def test_gzip_whole_reply() -> None:
    async with running(gzip=True) as address:
        reply = await fetch(address, "GET", "/v1/models", None, [("Accept-Encoding", "x, *")])
    assert reply.headers["content-encoding"] == "gzip"
    assert msgspec.json.decode(zlib.decompress(reply.body, wbits=31))["object"] == "list"
