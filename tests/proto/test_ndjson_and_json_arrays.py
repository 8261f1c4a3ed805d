"""ChunkDecoder's NDJSON and JSON-array framings, and their errors.

Each body is fed whole, byte by byte and at random points
(:func:`tests.helpers.decoding.decode_every_way`), and the ways must agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from purai_proto import ChunkDecoder
from tests.helpers.decoding import chunk, concatenated, decode_every_way, failure
from tests.helpers.splitting import split_ways


def test_ndjson() -> None:
    data = concatenated(chunk("a"), chunk("}{\\n"), {"done": True}, sep="\n") + b"\n"
    for framing in ("ndjson", "auto"):
        out = decode_every_way(data, Any, framing=framing)
        assert [o.get("done", False) for o in out] == [False, False, True]


def test_ndjson_bad_line() -> None:
    out, error = failure([b'{"a": 1}\n{"b": }\n{"c": 3}\n'], Any, framing="ndjson")
    assert out == [{"a": 1}]
    assert error.offset == 9


def test_json_array() -> None:
    data = b"[" + concatenated(chunk("a"), chunk("]}{["), sep="\n,\r\n") + b"\n]\n"
    for framing in ("json-array", "auto"):
        out = decode_every_way(data, framing=framing)
        assert [c.text for c in out] == ["a", "]}{["]


def test_json_array_done_and_empty() -> None:
    decoder = ChunkDecoder(Any, framing="json-array")
    assert decoder.feed(b" [ ") == []
    assert not decoder.done
    assert decoder.feed(b"]") == []
    assert decoder.done
    assert decoder.close() == []


@pytest.mark.parametrize(
    ("data", "good", "offset", "message"),
    [
        (b'[{"a": 1}', 1, 9, "closing ']'"),
        (b'[{"a": 1}, {"b"', 1, 11, "inside an array element"),
        (b'[{"a": 1} {"b": 2}]', 1, 10, "expected ',' or ']'"),
        (b'[{"a": 1}] {}', 1, 11, "after the end of the array"),
        (b'[{"a": 1},]', 1, 10, "expected a value"),
    ],
)
def test_json_array_errors(data: bytes, good: int, offset: int, message: str) -> None:
    for name, pieces in split_ways(data):
        out, error = failure(pieces, Any, framing="json-array")
        assert len(out) == good, name
        assert error.offset == offset, name
        assert message in str(error), name
