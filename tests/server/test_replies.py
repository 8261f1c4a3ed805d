"""What the stand-in server says: deterministic replies, pieces, chunks, models, errors."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from purai_proto import (
    ChatRequest,
    ErrorBody,
    ErrorDetail,
    LocalProtocolError,
    Message,
    StreamOptions,
)
from purai_transports.server._replies import (
    CACHE_MESSAGE,
    PURAI_COMPLETION_ID,
    completion,
    error_body,
    openai_models,
    purai_models,
    reply_text,
    split_tokens,
    stream_chunks,
    stream_error_body,
)


def _ask(prompt: str, **fields: object) -> ChatRequest:
    return ChatRequest(messages=[Message(role="user", content=prompt)], **fields)  # type: ignore[arg-type]


def test_seed_prompt() -> None:
    assert reply_text(_ask("who are you? answer with 3 words")) == "AI language model."
    assert reply_text(_ask("  Who are   YOU?")) == "AI language model."


def test_code_prompt_stresses_parsers() -> None:
    text = reply_text(_ask("write some code"))
    for hard in ("}{", '"', "\\", "\u00e9", "\U0001f680"):
        assert hard in text


def test_echo_is_deterministic_and_bounded() -> None:
    request = _ask("tell me   about\nllamas")
    assert reply_text(request) == reply_text(request)
    assert '"tell me about llamas"' in reply_text(request)
    assert len(reply_text(_ask("x" * 10_000))) < 400


def test_last_user_message_counts() -> None:
    request = ChatRequest(
        messages=[
            Message(role="user", content="who are you"),
            Message(role="assistant", content="AI language model."),
            Message(role="user", content="now some code"),
            Message(role="function", name="f", content="who are you"),
        ]
    )
    assert "}{" in reply_text(request)
    assert reply_text(ChatRequest()).startswith("Hello!")


def test_split_tokens_like_the_seed() -> None:
    assert split_tokens("AI language model.", 5) == ["AI la", "nguag", "e mod", "el."]
    assert split_tokens("", 5) == []


def test_split_tokens_keeps_surrogate_pairs() -> None:
    pair = "\ud83d\ude80"  # what a string decoded with surrogatepass holds for an emoji
    assert split_tokens("ab" + pair + "cd", 3) == ["ab" + pair, "cd"]


@given(text=st.text(), size=st.integers(1, 20))
def test_split_tokens_joins_back(text: str, size: int) -> None:
    pieces = split_tokens(text, size)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= size + 1 for piece in pieces)


@pytest.mark.parametrize("size", [0, -1])
def test_split_tokens_bad_size(size: int) -> None:
    with pytest.raises(LocalProtocolError):
        split_tokens("abc", size)


def test_purai_chunks() -> None:
    chunks = stream_chunks(_ask("hi", model="gpt-4"), "hello", chunk_size=2)
    assert [c.text for c in chunks] == ["he", "ll", "o"]
    for chunk in chunks:
        assert chunk.id == PURAI_COMPLETION_ID
        assert chunk.model == "gpt-4-0314"
        assert chunk.provider == "Churchless"
        assert chunk.cache is not None
        assert chunk.cache.status == 500
        assert chunk.choices[0].finish_reason is None


def test_openai_chunks_with_usage() -> None:
    request = _ask("hi", model="m", stream_options=StreamOptions(include_usage=True))
    chunks = stream_chunks(request, "hello", dialect="openai")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 2
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].id == stream_chunks(request, "hello", dialect="openai")[0].id


def test_unknown_dialect() -> None:
    with pytest.raises(LocalProtocolError):
        stream_chunks(_ask("x"), "x", dialect="nope")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        completion(_ask("x"), "x", "nope")  # type: ignore[arg-type]


def test_completion() -> None:
    reply = completion(_ask("hi", personality="pirate"), "arr")
    assert reply.text == "arr"
    assert reply.model == "pirate"
    assert reply.cache is not None
    assert isinstance(reply.cache.error, ErrorDetail)
    assert reply.cache.error.message == CACHE_MESSAGE
    assert completion(_ask("hi"), "x", "openai").provider is None


def test_models() -> None:
    anthropic = purai_models("anthropic")
    assert anthropic is not None
    assert {m.owner for m in anthropic} == {"anthropic"}
    assert purai_models("nobody") is None
    wire = msgspec.json.decode(msgspec.json.encode(anthropic[0]))
    assert set(wire) == {"id", "owner", "endpoints", "maxTokens", "freeLimitPerDay", "available"}
    listed = openai_models()
    assert listed["object"] == "list"
    assert all(model["object"] == "model" for model in listed["data"])


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503, 599])
@pytest.mark.parametrize("dialect", ["purai", "openai"])
def test_error_bodies_decode(status: int, dialect: str) -> None:
    body = msgspec.json.decode(
        msgspec.json.encode(error_body(status, dialect=dialect)),  # type: ignore[arg-type]
        type=ErrorBody,
    )
    assert body.summary
    if dialect == "purai":
        assert body.status == status


def test_stream_error_body() -> None:
    body = msgspec.json.decode(msgspec.json.encode(stream_error_body("boom")), type=ErrorBody)
    assert body.status == 500
    assert body.summary == "boom"
    assert CACHE_MESSAGE.startswith("Some of our providers")
