"""The clients against the stand-in server: every framing it speaks, its errors, its faults.

Every client flavour runs each test (``make_client``, ``conftest.py``), and every
test checks through ``no_leaked_fds`` that the client leaves no file descriptor open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from purai_proto import ChatRequest, LocalProtocolError, Message, PuraiError
from purai_transports import APIStatusError, ReadTimeout, RemoteProtocolError, StreamError, Timeout
from tests.helpers.clients import (
    API_KEY,
    SEED_MESSAGES,
    SEED_PIECES,
    SEED_PROMPT,
    SEED_TEXT,
    SHORT,
    MakeClient,
)
from tests.helpers.servers import closed_port

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


OPENAI_PATH = "/v1/chat/completions"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        pytest.param({}, "/openai/chat/completions", id="seed-format"),
        pytest.param({}, OPENAI_PATH, id="sse"),
        pytest.param({"ndjson": True}, "/openai/chat/completions", id="ndjson"),
        pytest.param({"gzip": True}, "/openai/chat/completions", id="gzip"),
        pytest.param({"gzip": True}, OPENAI_PATH, id="gzip-sse"),
        pytest.param({"delay": 0.005, "chunk_size": 1}, OPENAI_PATH, id="one-char-chunks"),
    ],
)
def test_streams_the_stand_in_reply(
    make_client: MakeClient, standin: Callable[..., str], config: dict[str, Any], path: str
) -> None:
    client = make_client(standin(**config))
    streamed = client.stream(model="gpt-3.5-turbo", messages=SEED_MESSAGES, path=path)
    # OpenAI's dialect adds a first chunk with the role and a last one with the finish
    # reason, neither with text.
    texts = [text for text in streamed.texts if text]
    assert texts == (list(SEED_TEXT) if config.get("chunk_size") == 1 else SEED_PIECES)
    assert streamed.completion.text == SEED_TEXT


def test_stream_completion_after_the_end(
    make_client: MakeClient, standin: Callable[..., str]
) -> None:
    client = make_client(standin())
    purai = client.stream(model="gpt-4", messages=SEED_MESSAGES).completion
    assert (purai.text, purai.model) == (SEED_TEXT, "gpt-4-0314")
    assert purai.provider == "Churchless"
    openai = client.stream(model="gpt-4", messages=SEED_MESSAGES, path=OPENAI_PATH).completion
    assert (openai.text, openai.choices[0].finish_reason) == (SEED_TEXT, "stop")


@pytest.mark.parametrize("path", ["/openai/chat/completions", OPENAI_PATH])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_complete(
    make_client: MakeClient, standin: Callable[..., str], path: str, stream: bool
) -> None:
    client = make_client(standin(gzip=True))
    completion = client.complete(messages=SEED_MESSAGES, stream=stream, path=path)
    assert completion.text == SEED_TEXT


def test_messages_as_dicts_and_as_message_objects(
    make_client: MakeClient, standin: Callable[..., str]
) -> None:
    client = make_client(standin())
    as_dicts = client.stream(messages=SEED_MESSAGES)
    as_messages = client.stream(messages=[Message(role="user", content=SEED_PROMPT)])
    assert as_dicts.text == as_messages.text == SEED_TEXT


def test_request_with_keyword_overrides(
    make_client: MakeClient, standin: Callable[..., str]
) -> None:
    client = make_client(standin())
    request = ChatRequest(model="gpt-4", messages=[Message(role="user", content="first")])
    overridden = [{"role": "user", "content": SEED_PROMPT}]
    streamed = client.stream(request, messages=overridden)
    assert (streamed.text, streamed.completion.model) == (SEED_TEXT, "gpt-4-0314")
    whole = client.complete(request, model="gpt-3.5-turbo")
    assert "first" in whole.text
    assert whole.model == "gpt-3.5-turbo-0301"


def test_unknown_field_is_refused_before_any_io(make_client: MakeClient) -> None:
    # Nothing listens there: the error must come before any attempt to connect.
    client = make_client(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(LocalProtocolError, match="no_such_field"):
        client.stream(messages=SEED_MESSAGES, no_such_field=1)
    with pytest.raises(LocalProtocolError, match="no_such_field"):
        client.complete(messages=SEED_MESSAGES, no_such_field=1)


def test_error_object_inside_the_stream(
    make_client: MakeClient, standin: Callable[..., str]
) -> None:
    client = make_client(standin(error_after=2))
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert streamed.texts == SEED_PIECES[:2]
    assert isinstance(streamed.error, StreamError)
    assert "stopped answering" in streamed.error.message
    # The connection of a failed reply is not reused, and the next one works.
    assert client.stream(messages=SEED_MESSAGES, keep_error=True).texts == SEED_PIECES[:2]


def test_wrong_api_key_is_401_and_never_shown(
    make_client: MakeClient, standin: Callable[..., str]
) -> None:
    wrong_key = "sk-wrong-9f8e7d6c5b4a"
    client = make_client(standin(api_key=API_KEY), api_key=wrong_key)
    with pytest.raises(APIStatusError) as caught:
        client.stream(messages=SEED_MESSAGES)
    error = caught.value
    assert error.status == 401
    assert "Invalid API key" in error.message
    for shown in (str(error), repr(error), repr(client)):
        assert wrong_key not in shown
        assert API_KEY not in shown


def test_api_key_from_the_environment(
    make_client: MakeClient, standin: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PURAI_API_KEY", API_KEY)
    client = make_client(standin(api_key=API_KEY))
    assert client.stream(messages=SEED_MESSAGES).text == SEED_TEXT
    assert API_KEY not in repr(client)


def test_error_status_with_retry_after(
    make_client: MakeClient, standin: Callable[..., str]
) -> None:
    client = make_client(standin(fail_status=503))
    with pytest.raises(APIStatusError) as caught:
        client.complete(messages=SEED_MESSAGES)
    assert (caught.value.status, caught.value.retry_after) == (503, 1.0)
    assert caught.value.message


@pytest.mark.parametrize(
    ("config", "error"),
    [
        pytest.param({"cut_after": 2}, RemoteProtocolError, id="cut"),
        pytest.param({"stall_after": 2}, ReadTimeout, id="stall"),
    ],
)
def test_stand_in_faults(
    make_client: MakeClient,
    standin: Callable[..., str],
    config: dict[str, Any],
    error: type[PuraiError],
) -> None:
    client = make_client(standin(**config), timeout=Timeout(read=SHORT))
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert streamed.texts == SEED_PIECES[:2]
    assert type(streamed.error) is error
