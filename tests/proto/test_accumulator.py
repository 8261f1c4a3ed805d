"""StreamAccumulator: chunks (or a connection's events) folded into the whole reply."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from purai_proto import (
    NEED_DATA,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ChoiceLogprobs,
    ChunkChoice,
    ChunkDecoder,
    ChunkReceived,
    ClientConnection,
    CompletionReceived,
    Delta,
    ErrorReceived,
    FunctionCall,
    LocalProtocolError,
    Message,
    RemoteProtocolError,
    ResponseStarted,
    StreamAccumulator,
    StreamEnded,
    TokenLogprob,
    ToolCall,
    Usage,
)
from tests.helpers.paths import SEED_STREAM

SEED = SEED_STREAM.read_bytes()


def seed_chunks() -> list[ChatCompletionChunk]:
    decoder = ChunkDecoder()
    chunks = [*decoder.feed(SEED), *decoder.close()]
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    return chunks  # type: ignore[return-value]


def chunk(*choices: dict[str, Any], **fields: Any) -> ChatCompletionChunk:
    body = {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": list(choices),
        **fields,
    }
    return msgspec.json.decode(msgspec.json.encode(body), type=ChatCompletionChunk)


def choice(
    delta: dict[str, Any], index: int = 0, finish_reason: str | None = None
) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish_reason}


def test_seed_stream() -> None:
    completion = StreamAccumulator(seed_chunks()).completion()
    assert completion.text == "AI language model."
    assert completion.id == "chatcmpl-QXlha2FBbmROaXhpZUFyZUF3ZXNvbWUK"
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-3.5-turbo-0301"
    assert completion.provider == "Churchless"
    assert completion.overwritten is False
    assert completion.cache is not None
    assert completion.cache.status == 500
    assert completion.called_functions == []
    assert completion.usage == Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
    [only] = completion.choices
    assert only.message.role == "assistant"
    assert only.finish_reason is None


def test_seed_stream_through_a_connection() -> None:
    conn = ClientConnection("localhost")
    conn.send_request(ChatRequest(model="gpt-3.5-turbo", stream=True))
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(SEED) + SEED)
    accumulator = StreamAccumulator()
    while True:
        event = conn.next_event()
        accumulator.add(event)
        if isinstance(event, StreamEnded) or event is NEED_DATA:
            break
    assert accumulator.completion().text == "AI language model."


def test_tool_calls_merged_by_index() -> None:
    weather = '{"city": "Paris", "unit": "celsius"}'
    time = '{"tz": "Europe/Paris"}'
    chunks = [
        chunk(choice({"role": "assistant", "content": None})),
        chunk(
            choice(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            )
        ),
        chunk(choice({"tool_calls": [{"index": 0, "function": {"arguments": weather[:9]}}]})),
        chunk(
            choice(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": time[:5]},
                        }
                    ]
                }
            )
        ),
        chunk(choice({"tool_calls": [{"index": 0, "function": {"arguments": weather[9:]}}]})),
        chunk(choice({"tool_calls": [{"index": 1, "function": {"arguments": time[5:]}}]})),
        chunk(choice({}, finish_reason="tool_calls")),
    ]
    completion = StreamAccumulator(chunks).completion()
    message = completion.choices[0].message
    assert message.content is None
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls == [
        ToolCall(id="call_a", type="function", function=FunctionCall("get_weather", weather)),
        ToolCall(id="call_b", type="function", function=FunctionCall("get_time", time)),
    ]
    # The arguments are ready to parse, and the message is ready to send back.
    assert [
        msgspec.json.decode(c.function.arguments or "") for c in message.tool_calls if c.function
    ] == [
        {"city": "Paris", "unit": "celsius"},
        {"tz": "Europe/Paris"},
    ]
    sent = msgspec.json.decode(msgspec.json.encode(ChatRequest(messages=[message])))
    assert sent["messages"][0]["tool_calls"][0] == {
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": weather},
    }


def test_tool_call_id_and_type_in_a_later_fragment() -> None:
    chunks = [
        chunk(choice({"tool_calls": [{"index": 0, "function": {"name": "f"}}]})),
        chunk(choice({"tool_calls": [{"index": 0, "id": "x", "type": "function"}]})),
        chunk(choice({"tool_calls": [{"index": 0, "id": "y", "function": {"name": "g"}}]})),
    ]
    calls = StreamAccumulator(chunks).completion().choices[0].message.tool_calls
    assert calls == [ToolCall(id="x", type="function", function=FunctionCall("f", ""))]


def test_tool_call_fragments_without_index() -> None:
    chunks = [
        chunk(choice({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{"}}]})),
        chunk(choice({"tool_calls": [{"function": {"arguments": "}"}}]})),
        chunk(choice({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "[]"}}]})),
        chunk(choice({"tool_calls": [{"id": "b", "function": {"arguments": ""}}]})),
    ]
    calls = StreamAccumulator(chunks).completion().choices[0].message.tool_calls
    assert calls == [
        ToolCall(id="a", type="function", function=FunctionCall("f", "{}")),
        ToolCall(id="b", type="function", function=FunctionCall("g", "[]")),
    ]


def test_function_call() -> None:
    arguments = '{"location": "Boston, MA"}'
    chunks = [
        chunk(
            choice({"role": "assistant", "function_call": {"name": "get_weather", "arguments": ""}})
        ),
        *(
            chunk(choice({"function_call": {"arguments": arguments[i : i + 4]}}))
            for i in range(0, len(arguments), 4)
        ),
        chunk(choice({}, finish_reason="function_call")),
    ]
    completion = StreamAccumulator(chunks).completion()
    message = completion.choices[0].message
    assert message.function_call == FunctionCall(name="get_weather", arguments=arguments)
    assert message.content is None
    assert completion.choices[0].finish_reason == "function_call"


def test_function_call_with_no_arguments() -> None:
    chunks = [chunk(choice({"function_call": {"name": "now"}}))]
    message = StreamAccumulator(chunks).completion().choices[0].message
    assert message.function_call == FunctionCall(name="now", arguments="")


def test_multiple_choices() -> None:
    chunks = [
        chunk(choice({"role": "assistant", "content": "B1"}, index=1)),
        chunk(choice({"role": "assistant", "content": "A1"}, index=0)),
        chunk(choice({"content": " A2"}, index=0), choice({"content": " B2"}, index=1)),
        chunk(
            choice({}, index=1, finish_reason="length"), choice({}, index=0, finish_reason="stop")
        ),
    ]
    completion = StreamAccumulator(chunks).completion()
    assert [(c.index, c.message.content, c.finish_reason) for c in completion.choices] == [
        (0, "A1 A2", "stop"),
        (1, "B1 B2", "length"),
    ]
    assert completion.text == "A1 A2"


def test_usage_chunk_with_no_choices() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    chunks = [
        chunk(choice({"content": "Hi"}), usage=None),
        chunk(choice({}, finish_reason="stop")),
        chunk(usage=usage),
    ]
    completion = StreamAccumulator(chunks).completion()
    assert completion.usage == Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    assert completion.text == "Hi"
    assert len(completion.choices) == 1


def test_zero_usage_does_not_replace_real_counts() -> None:
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    real = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    chunks = [chunk(usage=zero), chunk(usage=real), chunk(usage=zero)]
    assert StreamAccumulator(chunks).completion().usage == Usage(1, 1, 2)
    assert StreamAccumulator([chunk()]).completion().usage is None


def test_purai_fields_are_carried() -> None:
    cache = {"status": 500, "error": {"message": "Some providers failed.", "records": []}}
    called = [
        [
            {"name": "search", "arguments": '{"q": "x"}'},
            {"role": "function", "name": "search", "content": "ok"},
        ]
    ]
    chunks = [
        chunk(choice({"content": "a"}), provider="FoxGPT", overwritten=False, calledFunctions=[]),
        chunk(choice({"content": "b"}), provider="Churchless", overwritten=True, cache=cache),
        chunk(choice({"content": "c"}), overwritten=False, calledFunctions=called),
        chunk(choice({"content": "d"}), calledFunctions=called),
    ]
    completion = StreamAccumulator(chunks).completion()
    assert completion.text == "abcd"
    assert completion.provider == "Churchless"
    assert completion.overwritten is True
    assert completion.cache is not None
    assert completion.cache.status == 500
    assert completion.called_functions == [
        (
            FunctionCall(name="search", arguments='{"q": "x"}'),
            Message(role="function", name="search", content="ok"),
        )
    ]


def test_refusal_and_metadata() -> None:
    chunks = [
        chunk(choice({"role": "assistant", "refusal": "I can't"}), system_fingerprint="fp_1"),
        chunk(choice({"refusal": " help."}), service_tier="default"),
    ]
    completion = StreamAccumulator(chunks).completion()
    assert completion.choices[0].message.refusal == "I can't help."
    assert completion.system_fingerprint == "fp_1"
    assert completion.service_tier == "default"
    assert completion.id == "chatcmpl-9"
    assert completion.created == 1700000000


def test_add_and_snapshots() -> None:
    chunks = seed_chunks()
    accumulator = StreamAccumulator()
    texts = []
    for item in chunks:
        accumulator.add_chunk(item)
        texts.append(accumulator.completion().text)
    assert texts == ["AI la", "AI languag", "AI language mod", "AI language model."]
    assert accumulator.completion() == accumulator.completion()
    # Any iterable will do, a generator too.
    assert StreamAccumulator(c for c in chunks).completion().text == "AI language model."


def test_events_other_than_chunks_are_ignored() -> None:
    items: list[Any] = [
        ResponseStarted(status=200, headers=()),
        NEED_DATA,
        *(ChunkReceived(chunk=c) for c in seed_chunks()),
        ErrorReceived(status=500, message="x"),
        StreamEnded(),
    ]
    assert StreamAccumulator(items).completion().text == "AI language model."


def test_completion_received_is_the_whole_reply() -> None:
    whole = ChatCompletion(id="x", model="m")
    accumulator = StreamAccumulator([CompletionReceived(completion=whole)])
    assert accumulator.completion() is whole


def test_empty_stream() -> None:
    completion = StreamAccumulator().completion()
    assert completion.choices == []
    assert completion.text == ""


@pytest.mark.parametrize("pieces", [1, 3, 50])
def test_long_text_in_many_pieces(pieces: int) -> None:
    text = "".join(chr(0x41 + i % 26) for i in range(5000)) + 'é}{\\"'
    step = max(1, len(text) // pieces)
    chunks = [chunk(choice({"content": text[i : i + step]})) for i in range(0, len(text), step)]
    assert StreamAccumulator(chunks).completion().text == text


def test_whole_reply_to_a_streamed_request_accumulates_its_message() -> None:
    # Some servers ignore "stream": true and send one non-streamed reply; read as a
    # chunk, its text is in choices[].message, not in a delta.
    chunk = msgspec.json.decode(
        b'{"object": "chat.completion", "choices": [{"index": 0, "message": {"role":'
        b' "assistant", "content": "Whole."}, "finish_reason": "stop"}]}',
        type=ChatCompletionChunk,
    )
    assert chunk.text == "Whole."
    completion = StreamAccumulator([chunk]).completion()
    assert completion.text == "Whole."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"


def test_long_streams_keep_every_piece_in_order() -> None:
    # Past a few hundred pieces the text is kept in joined blocks: check the seams.
    pieces = [f"{i}é😀 " for i in range(5000)]
    arguments = [f'"{i}",' for i in range(1300)]
    chunks = [
        ChatCompletionChunk(choices=[ChunkChoice(delta=Delta(content=piece))]) for piece in pieces
    ] + [
        ChatCompletionChunk(
            choices=[ChunkChoice(delta=Delta(function_call=FunctionCall(arguments=a)))]
        )
        for a in arguments
    ]
    completion = StreamAccumulator(chunks).completion()
    assert completion.text == "".join(pieces)
    call = completion.choices[0].message.function_call
    assert call is not None
    assert call.arguments == "".join(arguments)


# --- reasoning, own types -----------------------------------------------------------


def _delta_chunk(index: int = 0, **delta: Any) -> ChatCompletionChunk:
    return ChatCompletionChunk(choices=[ChunkChoice(index=index, delta=Delta(**delta))])


def test_reasoning_is_folded_per_choice_from_either_field() -> None:
    chunks = [
        _delta_chunk(reasoning_content="a"),
        _delta_chunk(1, reasoning="x"),
        # Newer vLLM sends the same text in both fields: taken once.
        _delta_chunk(reasoning_content="b", reasoning="b"),
        _delta_chunk(content="answer"),
    ]
    assert [c.reasoning for c in chunks] == ["a", "", "b", ""]
    completion = StreamAccumulator(chunks).completion()
    assert completion.reasoning == "ab"
    assert [c.message.reasoning_content for c in completion.choices] == ["ab", "x"]
    assert completion.choices[0].message.content == "answer"


def test_a_whole_reply_gives_its_reasoning_under_either_name() -> None:
    decoded = msgspec.json.decode(
        b'{"choices":[{"message":{"role":"assistant","content":"4","reasoning":"2+2"}}]}',
        type=ChatCompletion,
    )
    assert decoded.reasoning == "2+2"
    assert ChatCompletion().reasoning == ""


class FilteredCompletion(ChatCompletion):
    checked: bool = False


def test_the_completion_type_is_built() -> None:
    accumulator = StreamAccumulator(
        [_delta_chunk(content="hi")], completion_type=FilteredCompletion
    )
    completion = accumulator.completion()
    assert type(completion) is FilteredCompletion
    assert completion.text == "hi"
    assert not completion.checked


@pytest.mark.parametrize("bad", [Message, list, "ChatCompletion"])
def test_a_completion_type_it_cannot_build_is_refused(bad: Any) -> None:
    with pytest.raises(LocalProtocolError, match="completion_type"):
        StreamAccumulator(completion_type=bad)


def test_a_dict_that_is_no_chunk_is_a_remote_error() -> None:
    accumulator = StreamAccumulator([{"choices": [{"index": 0, "delta": {"content": "a"}}]}])
    assert accumulator.completion().text == "a"
    with pytest.raises(RemoteProtocolError, match="ChatCompletionChunk"):
        accumulator.add({"choices": "none"})


def test_tool_calls_without_index_split_on_a_new_name_or_id() -> None:
    def call(**fields: Any) -> ChatCompletionChunk:
        return _delta_chunk(tool_calls=[ToolCall(**fields)])

    chunks = [
        call(id="a", function=FunctionCall(name="f", arguments='{"x"')),
        call(function=FunctionCall(arguments=": 1}")),  # continues the last
        call(function=FunctionCall(name="g", arguments="{}")),  # a second name: new
        call(id="c", function=FunctionCall(arguments="[]")),  # a new id: new
    ]
    calls = StreamAccumulator(chunks).completion().choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls if c.function] == [
        ("a", "f", '{"x": 1}'),
        (None, "g", "{}"),
        ("c", None, "[]"),
    ]


def test_logprobs_are_joined_and_a_reply_so_far_stays_as_it_was() -> None:
    def chunk(token: str) -> ChatCompletionChunk:
        logprobs = ChoiceLogprobs(content=[TokenLogprob(token=token, logprob=-1.0)])
        return ChatCompletionChunk(
            choices=[ChunkChoice(delta=Delta(content=token), logprobs=logprobs)]
        )

    accumulator = StreamAccumulator([chunk("a")])
    so_far = accumulator.completion()
    accumulator.add(chunk("b"))

    def tokens(completion: ChatCompletion) -> list[str]:
        logprobs = completion.choices[0].logprobs
        assert logprobs is not None
        return [t.token for t in logprobs.content or []]

    assert tokens(so_far) == ["a"]
    assert tokens(accumulator.completion()) == ["a", "b"]
