"""ChunkDecoder's SSE framing (OpenAI's): line ends, comments, ``[DONE]``, error
events, truncation and the line and event limits.

Each body is fed whole, byte by byte and at random points
(:func:`tests.helpers.decoding.decode_every_way`), and the ways must agree.
"""

from __future__ import annotations

import pytest

from purai_proto import (
    ChatCompletionChunk,
    ChunkDecoder,
    ErrorBody,
    ErrorDetail,
    RemoteProtocolError,
)
from tests.helpers.decoding import chunk, decode_every_way, failure, sse
from tests.helpers.splitting import split_ways


@pytest.mark.parametrize("end", ["\n", "\r", "\r\n"], ids=["lf", "cr", "crlf"])
def test_sse_line_ends(end: str) -> None:
    data = sse(chunk("a"), chunk("}{"), "[DONE]", end=end)
    chunks = decode_every_way(data, framing="sse")
    assert [c.text for c in chunks] == ["a", "}{"]
    chunks = decode_every_way(data)  # auto
    assert [c.text for c in chunks] == ["a", "}{"]


def test_sse_comments_no_space_multiline_data_and_unknown_fields() -> None:
    data = (
        b": keep-alive\n\n"
        b"id: 1\nretry: 100\nfoo: bar\n"
        b'data:{"choices": [{"delta":\n'
        b'data: {"content": "multi"}}]}\n\n'
        b":another comment\n"
        b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    decoder_out = decode_every_way(data)
    assert [c.text for c in decoder_out] == ["multi", "x"]


def test_sse_done_flag_and_data_after_done() -> None:
    decoder = ChunkDecoder(framing="sse")
    decoder.feed(sse(chunk("a")))
    assert not decoder.done
    decoder.feed(b"data: [DONE]\n\n: bye\n\n")
    assert decoder.done
    with pytest.raises(RemoteProtocolError, match="after 'data: \\[DONE\\]'"):
        decoder.feed(sse(chunk("late")))


def test_sse_error_event() -> None:
    data = sse(chunk("a")) + b'event: error\ndata: {"error": {"message": "overloaded"}}\n\n'
    first, error = decode_every_way(data)
    assert first.text == "a"
    assert isinstance(error, ErrorBody)
    assert isinstance(error.error, ErrorDetail)
    assert error.summary == "overloaded"


def test_sse_error_event_with_text_payload() -> None:
    [error] = decode_every_way(b"event: error\ndata: upstream timed out\n\n", framing="sse")
    assert isinstance(error, ErrorBody)
    assert error.summary == "upstream timed out"


def test_sse_error_object_without_event_name() -> None:
    data = sse(chunk("a"), {"error": {"message": "bad", "type": "server_error"}})
    first, error = decode_every_way(data)
    assert first.text == "a"
    assert isinstance(error, ErrorBody)
    assert error.summary == "bad"


def test_sse_last_event_without_blank_line_is_kept() -> None:
    data = b'data: {"choices": [{"delta": {"content": "last"}}]}'
    assert [c.text for c in decode_every_way(data, framing="sse")] == ["last"]


def test_sse_bad_payload_raises_with_offset() -> None:
    data = sse(chunk("a")) + b"data: {nope}\n\n"
    for name, pieces in split_ways(data):
        out, error = failure(pieces, ChatCompletionChunk, framing="sse")
        assert [c.text for c in out] == ["a"], name
        assert error.offset == len(sse(chunk("a"))), name


def test_sse_truncated_event_raises() -> None:
    data = sse(chunk("a"))
    out, error = failure([data + b'data: {"choices": [{"del'], ChatCompletionChunk)
    assert [c.text for c in out] == ["a"]
    assert error.offset == len(data)


def test_sse_line_limit() -> None:
    decoder = ChunkDecoder(framing="sse", max_object_size=1000)
    with pytest.raises(RemoteProtocolError, match="max_object_size"):
        for _ in range(100):
            decoder.feed(b"data: " + b"x" * 100)


def test_sse_event_limit_over_many_lines() -> None:
    decoder = ChunkDecoder(framing="sse", max_object_size=1000)
    with pytest.raises(RemoteProtocolError, match="max_object_size"):
        decoder.feed(b"data: xxxxxxxxxx\n" * 200)
