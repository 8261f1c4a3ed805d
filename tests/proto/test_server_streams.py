"""Streams shaped as real servers send them (``tests/data/servers/*.txt``), through the
decoder, the accumulator and ClientConnection, fed whole, byte by byte and at random
cuts: each must give the same text, reasoning, tool calls and errors however cut."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purai_proto import (
    DEFAULT_PATH,
    NEED_DATA,
    ChatCompletionChunk,
    ChatRequest,
    ChunkDecoder,
    ChunkReceived,
    ClientConnection,
    ErrorBody,
    ErrorReceived,
    StreamAccumulator,
    StreamEnded,
)
from tests.helpers.server_streams import EXPECTED, SERVERS, check_completion, server_stream
from tests.helpers.splitting import random_splits, split_ways


def test_every_fixture_has_its_expectation() -> None:
    assert sorted(p.stem for p in SERVERS.glob("*.txt")) == sorted(EXPECTED)


def _decode(pieces: list[bytes], type_: Any = ChatCompletionChunk) -> list[Any]:
    decoder = ChunkDecoder(type_)  # "auto": every fixture must be told apart as SSE
    items = [item for piece in pieces for item in decoder.feed(piece)]
    return items + decoder.close()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_decoder_and_accumulator_however_cut(name: str) -> None:
    data, expected = server_stream(name), EXPECTED[name]
    results = []
    for way, pieces in split_ways(data):
        items = _decode(pieces)
        chunks = [i for i in items if isinstance(i, ChatCompletionChunk)]
        errors = [i.summary for i in items if isinstance(i, ErrorBody)]
        assert len(chunks) + len(errors) == len(items), way
        if expected.chunks is not None:
            assert len(chunks) == expected.chunks, way
        completion = StreamAccumulator(chunks).completion()
        check_completion(completion, errors, expected)
        assert "".join(c.reasoning for c in chunks) == expected.reasoning
        results.append(items)
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_plain_dicts_fold_as_the_structs_do(name: str) -> None:
    data = server_stream(name)
    typed = StreamAccumulator(i for i in _decode([data]) if not isinstance(i, ErrorBody))
    dicts = StreamAccumulator(i for i in _decode([data], Any) if not isinstance(i, ErrorBody))
    assert dicts.completion() == typed.completion()


def _http(body: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    return head + body


def _through_connection(pieces: list[bytes], connection: ClientConnection[Any, Any]) -> list[Any]:
    connection.send_request(ChatRequest(model="m", stream=True), path=DEFAULT_PATH)
    events: list[Any] = []
    for piece in [*pieces, b""]:
        connection.receive_data(piece)
        while (event := connection.next_event()) is not NEED_DATA:
            events.append(event)
            if isinstance(event, StreamEnded):
                return events
    raise AssertionError("no StreamEnded")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_through_the_connection_however_cut(name: str) -> None:
    data, expected = _http(server_stream(name)), EXPECTED[name]
    for _way, pieces in split_ways(data, seeds=2):
        events = _through_connection(pieces, ClientConnection("h"))
        errors = [e.message for e in events if isinstance(e, ErrorReceived)]
        assert all(e.in_stream for e in events if isinstance(e, ErrorReceived))
        check_completion(StreamAccumulator(events).completion(), errors, expected)


# --- the providers' own fields, kept by a subclass ---------------------------------------


class AzureChunk(ChatCompletionChunk, gc=False):
    prompt_filter_results: list[dict[str, Any]] | None = None


class LlamaCppChunk(ChatCompletionChunk, gc=False):
    timings: dict[str, float] | None = None


class XGroq(msgspec.Struct, gc=False):
    id: str = ""
    usage: dict[str, float] | None = None


class GroqChunk(ChatCompletionChunk, gc=False):
    x_groq: XGroq | None = None


def _received(name: str, chunk_type: Any) -> list[Any]:
    connection = ClientConnection("h", chunk_type=chunk_type)
    events = _through_connection(random_splits(_http(server_stream(name)), seed=1), connection)
    return [e.chunk for e in events if isinstance(e, ChunkReceived)]


def test_azure_filter_results_kept_by_a_subclass() -> None:
    chunks = _received("azure_content_filter", AzureChunk)
    assert all(type(c) is AzureChunk for c in chunks)
    first = chunks[0].prompt_filter_results
    assert first is not None
    assert first[0]["content_filter_results"]["hate"]["severity"] == "safe"
    completion = StreamAccumulator(chunks).completion()
    assert completion.text == "Hi!"
    assert completion.id == "chatcmpl-Az9"


def test_llamacpp_timings_and_groq_extras_kept_by_subclasses() -> None:
    timings = [c.timings for c in _received("llamacpp_timings", LlamaCppChunk) if c.timings]
    assert timings == [pytest.approx({**timings[0], "predicted_per_second": 99.67})]
    groq = _received("groq_x_groq", GroqChunk)
    assert groq[0].x_groq == XGroq(id="req_01jb")
    assert groq[-1].x_groq.usage["total_tokens"] == 11


@pytest.mark.parametrize("plain", [Any, dict])
def test_plain_dicts_keep_everything(plain: Any) -> None:
    chunks = _received("openrouter_reasoning", plain)
    assert chunks[0]["choices"][0]["delta"]["reasoning_details"][0]["text"] == "The user"
    completion = StreamAccumulator(chunks, completion_type=plain).completion()
    assert completion["choices"][0]["message"]["reasoning_content"] == "The user greets me."


def test_dict_types_the_events_and_the_completion() -> None:
    # typing.Any works the same at run time, but a type checker sees the class
    # typing.Any in it: dict is what gives dict[str, Any] values.
    connection = ClientConnection("h", chunk_type=dict, completion_type=dict)
    pieces = [_http(server_stream("openai_n2"))]
    chunks = [
        e.chunk for e in _through_connection(pieces, connection) if isinstance(e, ChunkReceived)
    ]
    completion = StreamAccumulator(chunks, completion_type=dict).completion()
    assert completion["choices"][1]["message"]["content"] == "Blue sky"


def test_details_usage_logprobs_and_metadata_are_typed() -> None:
    chunks = _decode([server_stream("openai_include_usage")])
    completion = StreamAccumulator(chunks).completion()
    assert completion.service_tier == "default"
    assert completion.system_fingerprint == "fp_0ba0d124f1"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0
    deepseek = StreamAccumulator(
        _decode([server_stream("deepseek_reasoning_content")])
    ).completion()
    assert deepseek.usage is not None
    assert deepseek.usage.completion_tokens_details is not None
    assert deepseek.usage.completion_tokens_details.reasoning_tokens == 22

    logprobs = StreamAccumulator(_decode([server_stream("openai_logprobs")])).completion()
    folded = logprobs.choices[0].logprobs
    assert folded is not None
    assert folded.content is not None
    assert [(t.token, t.logprob, t.bytes) for t in folded.content] == [
        ("Yes", -0.0001, [89, 101, 115]),
        (".", -0.02, [46]),
    ]
    assert [t.token for t in folded.content[0].top_logprobs] == ["Yes", "No"]


# --- a property: reasoning and answer pieces, any text, any cut ----------------------------

pieces = st.lists(st.text(max_size=12), max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    reasoning=pieces,
    answer=pieces,
    field_name=st.sampled_from(["reasoning_content", "reasoning"]),
    seed=st.integers(0, 2**16),
)
def test_reasoning_and_text_fold_whatever_the_pieces_and_cuts(
    reasoning: list[str], answer: list[str], field_name: str, seed: int
) -> None:
    events = [
        {"choices": [{"index": 0, "delta": {field_name: r, "content": None}}]} for r in reasoning
    ]
    events += [{"choices": [{"index": 0, "delta": {"content": a}}]} for a in answer]
    body = b"".join(b"data: " + msgspec.json.encode(e) + b"\n\n" for e in events)
    chunks = _decode(random_splits(body + b"data: [DONE]\n\n", seed, max_piece=7))
    completion = StreamAccumulator(chunks).completion()
    assert completion.reasoning == "".join(reasoning)
    assert completion.text == "".join(answer)
    assert "".join(c.reasoning for c in chunks) == "".join(reasoning)
