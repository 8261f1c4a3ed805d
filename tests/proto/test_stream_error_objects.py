"""ChunkDecoder: error objects inside a stream, of every shape, and what is not one.

Each body is fed whole, byte by byte and at random points
(:func:`tests.helpers.decoding.decode_every_way`), and the ways must agree.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from purai_proto import ChatCompletionChunk, ErrorBody
from tests.helpers.decoding import chunk, concatenated, decode, decode_every_way
from tests.helpers.replies import SEED

ERROR_SHAPES = [
    ({"status": 503, "error": "Model is not available at the moment."}, 503),
    ({"status": 500, "error": {"message": "All of our providers failed", "records": []}}, 500),
    ({"status": 500, "message": "All of our providers failed", "records": []}, 500),
    ({"error": {"message": "Slow down", "type": "rate_limit", "param": None, "code": 429}}, None),
]


@pytest.mark.parametrize(("body", "status"), ERROR_SHAPES)
@pytest.mark.parametrize("type_", [ChatCompletionChunk, Any], ids=["chunk", "any"])
def test_error_object_after_chunks_is_an_error_body(
    body: dict[str, Any], status: int | None, type_: Any
) -> None:
    data = concatenated(chunk("one"), chunk("two"), body)
    *chunks, error = decode_every_way(data, type_)
    assert len(chunks) == 2
    assert isinstance(error, ErrorBody)
    assert error.status == status
    assert error.summary in {"Model is not available at the moment.", *_messages(body)}


def _messages(body: dict[str, Any]) -> set[str]:
    error = body.get("error")
    return {error["message"]} if isinstance(error, dict) else {body.get("message", "")}


def test_error_object_with_a_custom_type_is_found_by_probing() -> None:
    class Piece(msgspec.Struct):
        n: int = 0

    out = decode_every_way(b'{"n": 1}{"status": 429, "error": "slow down"}{"n": 2}', Piece)
    assert out[0] == Piece(1)
    assert isinstance(out[1], ErrorBody)
    assert out[1].summary == "slow down"
    assert out[2] == Piece(2)


def test_purai_cache_report_is_not_an_error() -> None:
    # Every PurAI chunk carries {"cache": {"status": 500, "error": {...}}}: that is a
    # log of failed providers inside a good chunk, not an error object.
    for type_ in (ChatCompletionChunk, Any):
        chunks = decode([SEED], type_)
        assert not any(isinstance(c, ErrorBody) for c in chunks)


def test_null_error_field_is_not_an_error() -> None:
    [got] = decode([concatenated(chunk("x", error=None))])
    assert got.text == "x"
