"""Every request field reaches the wire exactly, from every client: a recording server
keeps what each request brought (target, headers, body) for the test to compare."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from purai_proto import ChatRequest, ImageURL, ImageURLPart, LocalProtocolError, Message, TextPart
from tests.helpers.flavours import FLAVOURS, Flavoured, client_of
from tests.helpers.scripted_replies import streamed_reply
from tests.helpers.servers import ScriptedServer

# Each field as a caller gives it (structured ones as dicts, as openai-python takes
# them), and so as it must appear in the JSON body.
FIELDS: dict[str, Any] = {
    "model": "gpt-4o",
    "audio": {"voice": "alloy", "format": "wav"},
    "frequency_penalty": 0.5,
    "logit_bias": {"50256": -100.0},
    "logprobs": True,
    "max_completion_tokens": 256,
    "metadata": {"team": "docs"},
    "modalities": ["text", "audio"],
    "n": 2,
    "parallel_tool_calls": False,
    "prediction": {"type": "content", "content": "Hello"},
    "presence_penalty": -0.5,
    "prompt_cache_key": "k-1",
    "reasoning_effort": "low",
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    },
    "safety_identifier": "user-7",
    "seed": 7,
    "service_tier": "flex",
    "stop": ["\n\n"],
    "store": True,
    "stream_options": {"include_usage": True},
    "temperature": 0.25,
    "tool_choice": "auto",
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}},
        }
    ],
    "top_logprobs": 3,
    "top_p": 0.9,
    "user": "u-1",
    "verbosity": "low",
    "web_search_options": {
        "search_context_size": "low",
        "user_location": {"type": "approximate", "approximate": {"city": "Oslo"}},
    },
}
# Content as parts, every role OpenAI has, and reasoning sent back.
MESSAGES: list[dict[str, Any]] = [
    {"role": "developer", "content": "Answer briefly."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in these?"},
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/a.png", "detail": "low"},
            },
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-1", "filename": "a.pdf"}},
        ],
    },
    {"role": "assistant", "content": "A cat.", "reasoning_content": "It has whiskers."},
    {"role": "user", "content": "And?"},
]
EXTRA_BODY = {"top_k": 40, "chat_template_kwargs": {"enable_thinking": False}}


@contextlib.contextmanager
def _recording(flavour: str, **options: Any) -> Iterator[tuple[ScriptedServer, Flavoured]]:
    with (
        ScriptedServer(streamed_reply(["ok"], sse=True)) as server,
        client_of(flavour, server.base_url + "/v1", **options) as client,
    ):
        yield server, client


def _body(server: ScriptedServer, index: int = 0) -> Any:
    return msgspec.json.decode(server.seen[index].body)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_field_reaches_the_wire_exactly(flavour: str) -> None:
    with _recording(flavour) as (server, client):
        client.stream(messages=MESSAGES, extra_body=EXTRA_BODY, **FIELDS)
        client.complete(messages=MESSAGES, extra_body=EXTRA_BODY, **FIELDS)
    streamed, whole = _body(server, 0), _body(server, 1)
    assert streamed == {**FIELDS, "messages": MESSAGES, "stream": True, **EXTRA_BODY}
    assert whole == {**FIELDS, "messages": MESSAGES, "stream": False, **EXTRA_BODY}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_extra_body_wins_over_a_typed_field(flavour: str) -> None:
    # As in openai-python: what extra_body says is what is sent.
    request = ChatRequest(model="m", seed=1, extra_body={"seed": 2})
    with _recording(flavour) as (server, client):
        client.complete(request=request, messages=[{"role": "user", "content": "hi"}])
        client.complete(request=request, extra_body={"seed": 3, "top_k": 5})
    assert _body(server, 0)["seed"] == 2
    assert (_body(server, 1)["seed"], _body(server, 1)["top_k"]) == (3, 5)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_parts_as_structs_match_parts_as_dicts(flavour: str) -> None:
    parts = Message(
        role="user",
        content=[TextPart("What is this?"), ImageURLPart(ImageURL("https://e.com/a.png"))],
    )
    with _recording(flavour) as (server, client):
        client.complete(model="m", messages=[parts])
    assert _body(server)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}},
            ],
        }
    ]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_extra_headers_and_extra_query_per_request(flavour: str) -> None:
    client_headers = {"X-Team": "docs", "X-Both": "client"}
    with _recording(flavour, headers=client_headers) as (server, client):
        client.stream(
            model="m",
            extra_headers={"X-Both": "request", "api-key": "azure-key"},
            extra_query={"api-version": "2024-10-21", "q": "a b&c/d"},
        )
        client.complete(model="m", extra_query=[("tag", "x"), ("tag", "y")])
        client.complete(model="m")
    first, second, third = server.seen
    assert first.target == "/v1/chat/completions?api-version=2024-10-21&q=a+b%26c%2Fd"
    assert (first.headers["x-team"], first.headers["x-both"]) == ("docs", "request")
    assert first.headers["api-key"] == "azure-key"
    assert second.target == "/v1/chat/completions?tag=x&tag=y"
    # Per request only: the next request has the client's headers, and no query.
    assert third.target == "/v1/chat/completions"
    assert third.headers["x-both"] == "client"
    assert "api-key" not in third.headers


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_headers_is_kept_beside_extra_headers(flavour: str) -> None:
    with _recording(flavour) as (server, client):
        client.complete(
            model="m", headers={"X-A": "old", "X-B": "old"}, extra_headers={"X-B": "new"}
        )
    assert (server.seen[0].headers["x-a"], server.seen[0].headers["x-b"]) == ("old", "new")


@pytest.mark.parametrize(
    ("base", "path", "target"),
    [
        ("/v1", None, "/v1/chat/completions"),
        ("", None, "/openai/chat/completions"),
        ("/api/v1", None, "/api/v1/chat/completions"),
        ("/v1", "/completions", "/v1/completions"),
        ("/openai/v1", None, "/openai/v1/chat/completions"),  # Azure's v1 API
    ],
)
def test_the_default_path_follows_the_base_url(base: str, path: str | None, target: str) -> None:
    with (
        ScriptedServer(streamed_reply(["ok"], sse=True)) as server,
        client_of("blocking", server.base_url + base) as client,
    ):
        client.complete(model="m", path=path)
    assert server.seen[0].target == target


@pytest.mark.parametrize("bad", [["not a pair"], [(1, "x")], 42])
def test_a_bad_extra_query_is_refused_before_sending(bad: Any) -> None:
    with _recording("blocking") as (server, client), pytest.raises(LocalProtocolError):
        client.complete(model="m", extra_query=bad)
    assert server.connections == 0
