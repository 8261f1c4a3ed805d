"""Every field of OpenAI's chat request reaches the JSON body exactly as OpenAI's API
reference writes it, typed or given as dicts; extra_body, query parameters, refusals."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from purai_proto import (
    ApproximateLocation,
    AudioOptions,
    ChatRequest,
    ClientConnection,
    ContentPart,
    FileContent,
    FilePart,
    ImageURL,
    ImageURLPart,
    InputAudio,
    InputAudioPart,
    JSONSchema,
    LocalProtocolError,
    Message,
    Prediction,
    RefusalPart,
    ResponseFormatJSONObject,
    ResponseFormatJSONSchema,
    ResponseFormatText,
    StreamOptions,
    TextPart,
    UserLocation,
    WebSearchOptions,
)
from purai_proto._http.request import encode_body
from purai_transports._core.requests import build_request

USER = {"role": "user", "content": "hi"}
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}

# (keyword, value as OpenAI documents it): each must come out as it went in.
OPENAI_FIELDS: list[tuple[str, Any]] = [
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("frequency_penalty", -0.5),
    ("logit_bias", {"50256": -100}),
    ("logprobs", True),
    ("max_completion_tokens", 1024),
    ("metadata", {"project": "demo"}),
    ("modalities", ["text", "audio"]),
    ("n", 2),
    ("parallel_tool_calls", False),
    ("prediction", {"type": "content", "content": "def f(): pass"}),
    ("prediction", {"type": "content", "content": [{"type": "text", "text": "x = 1"}]}),
    ("presence_penalty", 0.25),
    ("prompt_cache_key", "user-42"),
    ("reasoning_effort", "minimal"),
    ("reasoning_effort", "high"),
    ("response_format", {"type": "text"}),
    ("response_format", {"type": "json_object"}),
    (
        "response_format",
        {
            "type": "json_schema",
            "json_schema": {
                "name": "thing",
                "description": "a thing",
                "schema": SCHEMA,
                "strict": True,
            },
        },
    ),
    ("safety_identifier", "hashed-user"),
    ("seed", 7),
    ("service_tier", "flex"),
    ("stop", ["\n\n", "END"]),
    ("store", True),
    ("stream_options", {"include_usage": True}),
    ("stream_options", {"include_usage": True, "include_obfuscation": False}),
    ("tool_choice", "required"),
    ("tool_choice", {"type": "function", "function": {"name": "get_weather"}}),
    ("top_logprobs", 5),
    ("user", "u-1"),
    ("verbosity", "low"),
    ("web_search_options", {"search_context_size": "low"}),
    (
        "web_search_options",
        {
            "search_context_size": "high",
            "user_location": {
                "type": "approximate",
                "approximate": {"city": "Paris", "country": "FR", "timezone": "Europe/Paris"},
            },
        },
    ),
]


def _body(request: ChatRequest) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(encode_body(request))
    return decoded


@pytest.mark.parametrize(("name", "value"), OPENAI_FIELDS, ids=[n for n, _ in OPENAI_FIELDS])
def test_each_field_goes_out_as_openai_documents_it(name: str, value: Any) -> None:
    request = build_request(None, {"messages": [USER], "model": "m", name: value}, stream=True)
    assert _body(request) == {"messages": [USER], "model": "m", "stream": True, name: value}


def test_typed_options_encode_as_the_dicts_do() -> None:
    typed = ChatRequest(
        model="m",
        audio=AudioOptions(voice="alloy", format="wav"),
        prediction=Prediction(content="def f(): pass"),
        response_format=ResponseFormatJSONSchema(JSONSchema(name="thing", schema=SCHEMA)),
        stream_options=StreamOptions(include_usage=True),
        web_search_options=WebSearchOptions(
            user_location=UserLocation(ApproximateLocation(country="FR"))
        ),
    )
    assert _body(typed) == {
        "model": "m",
        "audio": {"voice": "alloy", "format": "wav"},
        "prediction": {"type": "content", "content": "def f(): pass"},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "thing", "schema": SCHEMA},
        },
        "stream_options": {"include_usage": True},
        "web_search_options": {
            "user_location": {"type": "approximate", "approximate": {"country": "FR"}}
        },
    }
    assert _body(ChatRequest(response_format=ResponseFormatText())) == {
        "response_format": {"type": "text"}
    }
    assert _body(ChatRequest(response_format=ResponseFormatJSONObject()))["response_format"] == {
        "type": "json_object"
    }


def test_dict_options_become_typed() -> None:
    request = build_request(
        None, {"response_format": {"type": "json_object"}, "stream_options": {}}, stream=False
    )
    assert request.response_format == ResponseFormatJSONObject()
    assert request.stream_options == StreamOptions()


CONTENT_PARTS: list[tuple[Any, dict[str, Any]]] = [
    (TextPart("hello"), {"type": "text", "text": "hello"}),
    (
        ImageURLPart(ImageURL("https://x/cat.png", detail="low")),
        {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
    ),
    (
        InputAudioPart(InputAudio("UklGRg==", "wav")),
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ),
    (FilePart(FileContent(file_id="file-1")), {"type": "file", "file": {"file_id": "file-1"}}),
    (
        FilePart(FileContent(file_data="JVBERi0=", filename="a.pdf")),
        {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf"}},
    ),
    (RefusalPart("no"), {"type": "refusal", "refusal": "no"}),
]


@pytest.mark.parametrize(("part", "wire"), CONTENT_PARTS)
def test_content_parts_both_ways(part: Any, wire: dict[str, Any]) -> None:
    message = Message(role="user", content=[part])
    assert _body(ChatRequest(messages=[message]))["messages"] == [
        {"role": "user", "content": [wire]}
    ]
    built = build_request(None, {"messages": [{"role": "user", "content": [wire]}]}, stream=False)
    assert built.messages == [message]


def test_message_text_joins_its_text_parts() -> None:
    parts: list[ContentPart] = [
        TextPart("look: "),
        ImageURLPart(ImageURL("data:image/png;base64,AA==")),
        TextPart("!"),
    ]
    assert Message(role="user", content=parts).text == "look: !"
    assert Message(role="user", content="plain").text == "plain"
    assert Message(role="user").text == ""


def test_developer_role_and_reasoning_sent_back() -> None:
    messages = [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "two and two"},
    ]
    request = build_request(None, {"messages": messages}, stream=False)
    assert _body(request)["messages"] == messages


def test_unknown_content_part_type_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="invalid message"):
        build_request(
            None, {"messages": [{"role": "user", "content": [{"type": "video"}]}]}, stream=False
        )


# --- extra_body -------------------------------------------------------------------------


def test_extra_body_is_merged_and_wins() -> None:
    request = build_request(
        None,
        {"model": "m", "temperature": 0.5, "extra_body": {"top_k": 40, "temperature": 0.1}},
        stream=True,
    )
    assert _body(request) == {
        "model": "m",
        "stream": True,
        "temperature": 0.1,
        "top_k": 40,
    }


def test_extra_body_empty_or_unset_changes_nothing() -> None:
    plain = ChatRequest(model="m", seed=1)
    assert encode_body(plain) == msgspec.json.encode(plain)
    assert encode_body(ChatRequest(model="m", seed=1, extra_body={})) == encode_body(plain)
    assert b"extra_body" not in encode_body(ChatRequest(model="m", extra_body={"x": 1}))


def test_extra_body_reaches_the_wire_through_the_connection() -> None:
    request = ChatRequest(model="m", extra_body={"reasoning": {"effort": "low"}})
    data = ClientConnection("h").send_request(request)
    assert data.endswith(b'{"model":"m","reasoning":{"effort":"low"}}')


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_float_json_cannot_hold_is_refused_inside_extra_body(bad: float) -> None:
    fields = {"extra_body": {"options": [1.0, {"x": bad}]}}
    with pytest.raises(LocalProtocolError, match=r"extra_body\['options'\]\[1\]\['x'\]"):
        build_request(None, fields, stream=False)
    with pytest.raises(LocalProtocolError, match="JSON cannot hold"):
        ClientConnection("h").send_request(ChatRequest(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("frequency_penalty", math.nan),
        ("logit_bias", {"1": math.inf}),
        (
            "response_format",
            {"type": "json_schema", "json_schema": {"name": "s", "schema": {"max": math.nan}}},
        ),
    ],
)
def test_a_float_json_cannot_hold_is_refused_in_new_fields(name: str, value: Any) -> None:
    with pytest.raises(LocalProtocolError, match=f"request.{name}"):
        build_request(None, {name: value}, stream=False)


def test_extra_body_must_be_a_mapping() -> None:
    with pytest.raises(LocalProtocolError, match="extra_body"):
        build_request(None, {"extra_body": ["top_k", 40]}, stream=False)


def test_an_unknown_keyword_is_refused_and_points_to_extra_body() -> None:
    with pytest.raises(
        LocalProtocolError,
        match=r"unknown request field\(s\): top_k; .*extra_body=\{'top_k': \.\.\.\}",
    ):
        build_request(None, {"top_k": 40}, stream=False)


# --- query parameters -------------------------------------------------------------------


def _target(data: bytes) -> bytes:
    return data.split(b"\r\n", 1)[0].split(b" ")[1]


def test_query_parameters_are_percent_encoded() -> None:
    connection = ClientConnection("h")
    data = connection.send_request(
        ChatRequest(),
        path="/v1/chat/completions",
        query={"api-version": "2024-10-21", "q": "a b&c"},
    )
    assert _target(data) == b"/v1/chat/completions?api-version=2024-10-21&q=a+b%26c"


def test_query_parameters_join_a_query_in_the_path() -> None:
    data = ClientConnection("h").send_request(
        ChatRequest(), path="/p?x=1", query=[("tag", ["a", "b"])]
    )
    assert _target(data) == b"/p?x=1&tag=a&tag=b"
    assert _target(ClientConnection("h").send_request(ChatRequest(), path="/p", query={})) == b"/p"
