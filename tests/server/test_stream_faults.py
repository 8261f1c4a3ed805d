"""The faults the stand-in server injects in a stream: error object, cut, stall.

Over real loopback TCP, on asyncio and on trio, with the h11 client of
:mod:`tests.helpers.raw_client` (not the library's own), which keeps each HTTP chunk
apart.
"""

from __future__ import annotations

import anyio
import anyio.abc
import msgspec
import pytest

from purai_proto import ChatCompletionChunk, ChunkDecoder, ErrorBody, RemoteProtocolError
from tests.helpers.raw_client import (
    SEED_TEXT,
    chat,
    connect,
    decode,
    fetch,
    running,
    seed_objects,
    text_of,
)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/openai/chat/completions", "/v1/chat/completions"])
async def test_error_after(path: str) -> None:
    async with running(error_after=2) as address:
        reply = await fetch(address, "POST", path, chat())
    assert reply.status == 200
    assert reply.complete
    values = decode(reply.body)
    assert len(values) == 3
    assert all(isinstance(v, ChatCompletionChunk) for v in values[:2])
    error = values[2]
    assert isinstance(error, ErrorBody)
    assert "stopped answering" in error.summary
    if path.startswith("/openai"):
        assert error.status == 500


@pytest.mark.anyio
async def test_error_after_past_the_end() -> None:
    async with running(error_after=99) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
    values = decode(reply.body)
    assert text_of(values) == SEED_TEXT
    assert isinstance(values[-1], ErrorBody)


@pytest.mark.anyio
@pytest.mark.parametrize(("cut_after", "whole"), [(0, 0), (2, 2), (99, 3)])
async def test_cut_after(cut_after: int, whole: int) -> None:
    async with running(cut_after=cut_after) as address:
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
    assert reply.status == 200
    assert not reply.complete
    # The whole objects, then half of the next one in a chunk of its own.
    assert len(reply.pieces) == whole + 1
    next_object = msgspec.json.encode(seed_objects()[whole])
    assert len(reply.pieces[-1]) == len(next_object) // 2
    decoder = ChunkDecoder(framing="concatenated")
    assert len(decoder.feed(reply.body)) == whole
    with pytest.raises(RemoteProtocolError):
        decoder.close()


@pytest.mark.anyio
async def test_stall_after() -> None:
    async with running(stall_after=1) as address, connect(address) as client:
        await client.send("POST", "/openai/chat/completions", chat())
        head = await client.receive_head()
        assert head.status == 200
        first = await client.receive_piece()
        assert first is not None
        assert text_of(decode(first)) == "AI la"
        with anyio.move_on_after(0.2) as scope:
            await client.receive_piece()
        assert scope.cancelled_caught


@pytest.mark.anyio
async def test_client_leaving_mid_stream_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    async with running(delay=0.01, quiet=False) as address:
        async with connect(address) as client:
            await client.send("POST", "/openai/chat/completions", chat("x" * 150))
            await client.receive_head()
            assert await client.receive_piece()
        # The server goes on serving others.
        reply = await fetch(address, "POST", "/openai/chat/completions", chat())
        assert text_of(decode(reply.body)) == SEED_TEXT
    assert "Traceback" not in capsys.readouterr().err
