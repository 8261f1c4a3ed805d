"""StreamEncoder: every framing, byte for byte, and back through ChunkDecoder."""

from __future__ import annotations

import typing
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ChunkChoice,
    ChunkDecoder,
    Delta,
    LocalProtocolError,
    Message,
    StreamEncoder,
    StreamFraming,
    encode_json,
)
from purai_transports.server._replies import completion, reply_text, stream_chunks
from tests.helpers.paths import SEED_STREAM

SEED = SEED_STREAM
SEED_REQUEST = ChatRequest(
    model="gpt-3.5-turbo",
    messages=[Message(role="user", content="who are you? answer with 3 words")],
    stream=True,
)
FRAMINGS = list(typing.get_args(StreamFraming))


def _encode_all(framing: Any, values: list[Any], *, start: bool = True) -> bytes:
    encoder = StreamEncoder(framing)
    parts = [encoder.start()] if start else []
    parts += [encoder.encode(value) for value in values]
    parts.append(encoder.end())
    return b"".join(parts)


@pytest.mark.parametrize(
    ("framing", "expected"),
    [
        ("concatenated", b'{"a":1}{"b":"}{"}'),
        ("sse", b'data: {"a":1}\n\ndata: {"b":"}{"}\n\ndata: [DONE]\n\n'),
        ("ndjson", b'{"a":1}\n{"b":"}{"}\n'),
        ("json-array", b'[{"a":1},\n{"b":"}{"}]'),
    ],
)
@pytest.mark.parametrize("start", [True, False])
def test_framings_byte_for_byte(framing: Any, expected: bytes, start: bool) -> None:
    assert _encode_all(framing, [{"a": 1}, {"b": "}{"}], start=start) == expected


@pytest.mark.parametrize(
    ("framing", "expected"),
    [("concatenated", b""), ("sse", b"data: [DONE]\n\n"), ("ndjson", b""), ("json-array", b"[]")],
)
@pytest.mark.parametrize("start", [True, False])
def test_empty_stream(framing: Any, expected: bytes, start: bool) -> None:
    assert _encode_all(framing, [], start=start) == expected


def test_start_is_only_for_json_array() -> None:
    assert StreamEncoder("json-array").start() == b"["
    assert StreamEncoder("sse").start() == b""


def test_count() -> None:
    encoder = StreamEncoder()
    encoder.encode({})
    encoder.encode({})
    assert encoder.count == 2


@pytest.mark.parametrize("framing", FRAMINGS)
def test_round_trip_through_decoder(framing: Any) -> None:
    request = ChatRequest(messages=[Message(role="user", content="show me some code")])
    text = reply_text(request)
    chunks = stream_chunks(request, text, chunk_size=3)
    body = _encode_all(framing, chunks)
    decoder = ChunkDecoder(framing=framing)
    decoded = decoder.feed(body) + decoder.close()
    assert all(isinstance(chunk, ChatCompletionChunk) for chunk in decoded)
    assert "".join(chunk.text for chunk in decoded if isinstance(chunk, ChatCompletionChunk)) == (
        text
    )


@given(text=st.text(), size=st.integers(1, 40), framing=st.sampled_from(FRAMINGS))
def test_any_text_round_trips(text: str, size: int, framing: Any) -> None:
    chunks = stream_chunks(SEED_REQUEST, text, dialect="openai", chunk_size=size)
    decoder = ChunkDecoder(framing=framing)
    decoded = decoder.feed(_encode_all(framing, chunks)) + decoder.close()
    assert "".join(chunk.text for chunk in decoded if isinstance(chunk, ChatCompletionChunk)) == (
        text
    )


def test_purai_chunks_are_the_seed() -> None:
    """The seed's request gives the seed's objects, field for field."""
    seed_decoder = ChunkDecoder(Any)
    seed = seed_decoder.feed(SEED.read_bytes()) + seed_decoder.close()
    ours = [
        msgspec.json.decode(encode_json(c))
        for c in stream_chunks(SEED_REQUEST, "AI language model.")
    ]
    assert ours == seed


def test_openai_chunks_carry_no_purai_fields() -> None:
    wire = [
        msgspec.json.decode(encode_json(c))
        for c in stream_chunks(SEED_REQUEST, "hi", dialect="openai")
    ]
    for obj in wire:
        assert obj["object"] == "chat.completion.chunk"
        assert set(obj) == {"id", "object", "created", "model", "choices"}
    assert wire[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert wire[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}


def test_completion_wire_forms() -> None:
    purai = msgspec.json.decode(encode_json(completion(SEED_REQUEST, "x")))
    assert purai["provider"] == "Churchless"
    assert purai["calledFunctions"] == []
    assert purai["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}
    ]
    openai = msgspec.json.decode(encode_json(completion(SEED_REQUEST, "x", "openai")))
    assert set(openai) == {"id", "object", "created", "model", "choices", "usage"}


def test_other_objects_are_encoded_as_they_are() -> None:
    chunk_like = msgspec.json.decode(
        encode_json(ChunkChoice(delta=Delta(content="a"))), type=dict[str, Any]
    )
    assert chunk_like["logprobs"] is None  # only whole chunks and replies are trimmed
    assert encode_json(ChatCompletion(id="x")).startswith(b'{"id":"x"')


@pytest.mark.parametrize("framing", ["", "auto", "json"])
def test_unknown_framing(framing: Any) -> None:
    with pytest.raises(LocalProtocolError, match="unknown framing"):
        StreamEncoder(framing)


def test_misuse() -> None:
    encoder = StreamEncoder("json-array")
    encoder.encode({})
    with pytest.raises(LocalProtocolError, match="start"):
        encoder.start()
    encoder.end()
    with pytest.raises(LocalProtocolError, match="after end"):
        encoder.encode({})
    with pytest.raises(LocalProtocolError, match="twice"):
        encoder.end()


def test_unencodable_value() -> None:
    with pytest.raises(LocalProtocolError, match="cannot encode object"):
        StreamEncoder().encode(object())
