"""The wire models: what requests encode to and what responses decode from."""

from __future__ import annotations

import json

import msgspec
import pytest

from purai_proto import (
    CacheReport,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ErrorBody,
    ErrorDetail,
    FunctionCall,
    FunctionDefinition,
    Message,
    Tool,
)


def encode(value: object) -> dict[str, object]:
    return json.loads(msgspec.json.encode(value))  # type: ignore[no-any-return]


def test_request_leaves_unset_fields_out() -> None:
    request = ChatRequest(model="gpt-3.5-turbo", messages=[Message("user", "hi")], stream=True)
    assert encode(request) == {
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }


def test_request_purai_fields_use_their_wire_names() -> None:
    request = ChatRequest(
        personality="friendly",
        disable_error_summarization=True,
        primary_provider="Churchless",
        force_model="auto",
        overwrite_on_error=False,
        fallbacks=["gpt-4"],
    )
    assert encode(request) == {
        "personality": "friendly",
        "disableErrorSummarization": True,
        "primaryProvider": "Churchless",
        "forceModel": "auto",
        "overwriteOnError": False,
        "fallbacks": ["gpt-4"],
    }


def test_request_with_functions_and_tools() -> None:
    function = FunctionDefinition("weather", parameters={"type": "object"})
    request = ChatRequest(
        model="m",
        functions=[function],
        function_call="auto",
        tools=[Tool(function)],
        messages=[
            Message("assistant", function_call=FunctionCall("weather", '{"city": "Oslo"}')),
            Message("function", "sunny", name="weather"),
        ],
    )
    body = encode(request)
    assert body["functions"] == [{"name": "weather", "parameters": {"type": "object"}}]
    assert body["tools"] == [
        {"function": {"name": "weather", "parameters": {"type": "object"}}, "type": "function"}
    ]
    call = {"name": "weather", "arguments": '{"city": "Oslo"}'}
    assert body["messages"] == [
        {"role": "assistant", "function_call": call},
        {"role": "function", "content": "sunny", "name": "weather"},
    ]


def test_force_model_accepts_only_booleans_and_auto() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"forceModel": "never"}', type=ChatRequest)
    assert msgspec.json.decode(b'{"forceModel": true}', type=ChatRequest).force_model is True


def test_chunk_from_the_seed_and_from_openai() -> None:
    purai = msgspec.json.decode(
        b'{"object": "chat.completion", "choices": [{"index": 0, "delta": {"content": "AI la"},'
        b' "finish_reason": null}], "provider": "Churchless", "overwritten": true,'
        b' "cache": {"status": 500, "error": {"message": "Some failed", "records":'
        b' [{"provider": "FoxGPT", "response": {"status": 502, "data": "<html>"}}]}},'
        b' "calledFunctions": [[{"name": "f", "arguments": "{}"},'
        b' {"role": "function", "name": "f", "content": "42"}]]}',
        type=ChatCompletionChunk,
    )
    assert purai.text == "AI la"
    assert purai.overwritten is True
    assert isinstance(purai.cache, CacheReport)
    assert isinstance(purai.cache.error, ErrorDetail)
    assert purai.cache.error.records[0].response.data == "<html>"  # type: ignore[union-attr]
    call, result = purai.called_functions[0]
    assert call.name == "f"
    assert result.content == "42"

    openai = msgspec.json.decode(
        b'{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",'
        b' "system_fingerprint": "fp", "choices": [{"index": 0, "delta": {"role": "assistant",'
        b' "tool_calls": [{"index": 0, "id": "call_1", "type": "function",'
        b' "function": {"name": "f", "arguments": ""}}]}, "logprobs": null,'
        b' "finish_reason": null}], "usage": null}',
        type=ChatCompletionChunk,
    )
    assert openai.text == ""
    assert openai.system_fingerprint == "fp"
    tool_call = openai.choices[0].delta.tool_calls[0]  # type: ignore[index]
    assert tool_call.id == "call_1"
    assert tool_call.function.name == "f"  # type: ignore[union-attr]


def test_chunk_text_is_the_first_choice_whatever_the_order() -> None:
    chunk = msgspec.json.decode(
        b'{"choices": [{"index": 1, "delta": {"content": "b"}},'
        b' {"index": 0, "delta": {"content": "a"}}]}',
        type=ChatCompletionChunk,
    )
    assert chunk.text == "a"
    assert ChatCompletionChunk().text == ""


def test_everything_has_a_default_and_unknown_fields_are_ignored() -> None:
    chunk = msgspec.json.decode(b'{"unheard_of": [1, {"x": 2}]}', type=ChatCompletionChunk)
    assert chunk == ChatCompletionChunk()
    completion = msgspec.json.decode(b"{}", type=ChatCompletion)
    assert completion.text == ""
    assert completion.choices == []


def test_non_streamed_completion() -> None:
    completion = msgspec.json.decode(
        b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m",'
        b' "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},'
        b' "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1,'
        b' "total_tokens": 4}, "provider": "Pawan", "overwritten": false, "calledFunctions": []}',
        type=ChatCompletion,
    )
    assert completion.text == "Hello"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 4
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("body", "status", "summary", "records"),
    [
        (
            b'{"status": 503, "error": "Model is not available at the moment."}',
            503,
            "Model is not available at the moment.",
            0,
        ),
        (
            b'{"status": 500, "error": {"message": "All of our providers returned with errors",'
            b' "records": [{"provider": "Skailar", "response": {"status": 500}}]}}',
            500,
            "All of our providers returned with errors",
            1,
        ),
        (
            b'{"status": 429, "message": "Too many requests", "records": [{"provider": "P"},'
            b' {"provider": "Q"}]}',
            429,
            "Too many requests",
            2,
        ),
        (
            b'{"error": {"message": "Incorrect API key", "type": "invalid_request_error",'
            b' "param": null, "code": "invalid_api_key"}}',
            None,
            "Incorrect API key",
            0,
        ),
        (b"{}", None, "unknown error", 0),
    ],
)
def test_error_bodies_in_every_shape(
    body: bytes, status: int | None, summary: str, records: int
) -> None:
    error = msgspec.json.decode(body, type=ErrorBody)
    assert error.status == status
    assert error.summary == summary
    assert len(error.provider_records) == records
