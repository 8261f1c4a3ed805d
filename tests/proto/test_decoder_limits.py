"""ChunkDecoder's limits: the largest object, the most bytes buffered, and work that
stays linear however small the pieces.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from purai_proto import ChatCompletionChunk, ChunkDecoder, RemoteProtocolError
from tests.helpers.decoding import chunk, concatenated, failure, feed_any
from tests.helpers.splitting import split_ways


def test_object_larger_than_the_limit_raises_even_when_complete() -> None:
    small = concatenated(chunk("ok"))
    big = concatenated(chunk("x" * 5000))
    for name, pieces in split_ways(small + big + small, seeds=1):
        out, error = failure(pieces, ChatCompletionChunk, max_object_size=2000)
        assert [c.text for c in out] == ["ok"], name
        assert error.offset == len(small), name
        assert "max_object_size" in str(error)


def test_object_that_never_ends_is_bounded() -> None:
    decoder = ChunkDecoder(Any, max_object_size=10_000)
    decoder.feed(b'{"a": "')
    with pytest.raises(RemoteProtocolError, match="larger than the size limit"):
        for _ in range(1000):
            decoder.feed(b"x" * 100)


def test_buffer_limit() -> None:
    decoder = ChunkDecoder(Any, max_buffer_size=1000)
    with pytest.raises(RemoteProtocolError, match="size limit \\(1000 bytes"):
        decoder.feed(b'{"a": [' + b"1," * 497)


def test_endless_whitespace_does_not_accumulate() -> None:
    decoder = ChunkDecoder(Any, framing="concatenated", max_buffer_size=100)
    for _ in range(1000):
        assert decoder.feed(b" \n" * 30) == []
    assert feed_any(decoder, b'{"a": 1}') == [{"a": 1}]


def test_large_object_in_small_pieces_is_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # A multi-megabyte value fed in small pieces must not be re-read on every feed.
    # Count the bytes handed to msgspec, which is where re-reading would show.
    read = 0
    real = msgspec.json.Decoder.decode_lines

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def decode_lines(self, data: bytes) -> Any:
            nonlocal read
            read += len(data)
            return real(self.inner, data)

        def decode(self, data: Any) -> Any:
            nonlocal read
            read += len(data)
            return self.inner.decode(data)

    items = ",".join(f'{{"k": "{i} }}{{ "}}' for i in range(60_000))
    big = f'{{"items": [{items}]}}'.encode()
    data = big + concatenated({"b": 1}) + big
    decoder = ChunkDecoder(Any)
    monkeypatch.setattr(decoder._values, "one", Counting(decoder._values.one))
    out: list[Any] = []
    for i in range(0, len(data), 1000):
        out += decoder.feed(data[i : i + 1000])
    out += decoder.close()
    assert [len(o) for o in out] == [1, 1, 1]
    assert read < 4 * len(data)
