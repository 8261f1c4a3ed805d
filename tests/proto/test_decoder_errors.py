"""ChunkDecoder: broken streams raise RemoteProtocolError, at the right offset, after
every good object before the fault.
"""

from __future__ import annotations

from typing import Any

import pytest

from purai_proto import ChatCompletionChunk, ChunkDecoder, RemoteProtocolError
from tests.helpers.decoding import chunk, concatenated, decode, failure, feed_any
from tests.helpers.splitting import split_ways


def test_stream_ending_inside_an_object_raises_with_offset() -> None:
    data = concatenated(chunk("a"), chunk("b"))
    first_length = len(concatenated(chunk("a")))
    for cut in range(first_length + 1, len(data)):
        for name, pieces in split_ways(data[:cut], seeds=1):
            out, error = failure(pieces, ChatCompletionChunk)
            assert [c.text for c in out] == ["a"], name
            assert error.offset == first_length, name
            assert "ended inside a value" in str(error)


@pytest.mark.parametrize(
    ("data", "good", "offset"),
    [
        (b'{"a": 1}x{"b": 2}', 1, 8),
        (b'{"a": 1} , {"b": 2}', 1, 9),
        (b'{"a": 1}{"b": tru}{"c": 3}', 1, 8),
        (b'{"a": 1}{"b": "\\x"}', 1, 8),
        (b'{"a": 1}{"b": 1]', 1, 8),
        (b'{"a": 1}"str"', 1, 8),
        (b'{"a": 1}{"b" 2}{"c": 3}', 1, 8),
        (b'{"a": 1}{"b": "\xff\xfe"}', 1, 8),
        (b'{"a": 1}{"b": "\xed\xa0\x80"}', 1, 8),
        (b'{"a": 1}42', 1, 8),
    ],
)
def test_malformed_streams_raise_with_offset_after_the_good_objects(
    data: bytes, good: int, offset: int
) -> None:
    for name, pieces in split_ways(data):
        out, error = failure(pieces, Any, framing="concatenated")
        # Values before the problem come out of feed() when feed() finds it; when
        # only close() can, the broken stream's tail is not returned.
        assert out == decode([data[: good_end(data)]], Any)[: len(out)], name
        assert len(out) <= good, name
        assert error.offset == offset, name


def good_end(data: bytes) -> int:
    return data.index(b"}") + 1


def test_error_is_raised_again_by_later_calls() -> None:
    decoder = ChunkDecoder(Any)
    assert feed_any(decoder, b'{"a": 1}x{}') == [{"a": 1}]
    with pytest.raises(RemoteProtocolError) as first:
        decoder.feed(b"{}")
    with pytest.raises(RemoteProtocolError) as again:
        decoder.close()
    assert again.value is first.value
    assert first.value.offset == 8


def test_validation_error_is_a_remote_protocol_error() -> None:
    out, error = failure([concatenated(chunk("a"), {"choices": 5})], ChatCompletionChunk)
    assert [c.text for c in out] == ["a"]
    assert "invalid JSON value" in error.reason
    assert "choices" in error.reason


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    out, error = failure([b"{}", deep], Any)
    assert out == [{}]
    assert "nested too deeply" in error.reason
    assert error.offset == 2


def test_invalid_utf8_is_an_error_with_offset() -> None:
    out, error = failure([b'{"a": "ok"}{"b": "\xc3"}'], Any)
    assert out == [{"a": "ok"}]
    assert "UTF-8" in error.reason
    assert error.offset == 11
