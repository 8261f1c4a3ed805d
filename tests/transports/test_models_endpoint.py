"""``client.models()`` on every client, and what a 404 says: the URL tried, and the
base URL or path that was probably meant."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from purai_proto import (
    ChatCompletion,
    ChatRequest,
    ClientConnection,
    CompletionReceived,
    LocalProtocolError,
    Model,
    ModelList,
    StreamEnded,
    httptools_available,
)
from purai_transports import APIStatusError
from purai_transports.server import BackgroundServer, ServerConfig
from purai_transports.server._replies import openai_models, purai_models
from tests.helpers.flavours import FLAVOURS, Flavoured, client_of
from tests.helpers.scripted_replies import Reply, error_reply, head, streamed_reply
from tests.helpers.servers import ScriptedServer

# What the stand-in server lists, as Model values: OpenAI's list, and PurAI's.
LISTED = [Model(**entry) for entry in openai_models()["data"]]
PURAI_LISTED = [Model(id=m.id, owned_by=m.owner) for m in purai_models("openai") or []]


def _json_reply(value: Any, status: int = 200) -> Reply:
    body = msgspec.json.encode(value)
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return Reply([head(status, headers) + body], keep_alive=True)


@contextlib.contextmanager
def _standin(flavour: str, base_path: str) -> Iterator[Flavoured]:
    with (
        BackgroundServer(ServerConfig(quiet=True)) as server,
        client_of(flavour, server.base_url + base_path) as client,
    ):
        yield client


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("base_path", ["/v1", ""], ids=["openai", "purai"])
def test_models_from_the_stand_in_server(flavour: str, base_path: str) -> None:
    # Under /v1 OpenAI's GET /v1/models; else PurAI's GET /openai/models, a bare list
    # whose entries name their owner "owner".
    with _standin(flavour, base_path) as client:
        models = client.models()
    assert models == (LISTED if base_path else PURAI_LISTED)
    assert all(type(m) is Model for m in models)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_models_is_a_get_with_no_body_and_ignores_unknown_fields(flavour: str) -> None:
    listing = {
        "object": "list",
        "data": [
            {"id": "llama-3", "object": "model", "created": 17, "owned_by": "vllm", "root": "x"},
            {"id": "qwen3", "max_model_len": 32768},
        ],
    }
    with (
        ScriptedServer(_json_reply(listing)) as server,
        client_of(flavour, server.base_url + "/v1", headers={"X-Team": "a"}) as client,
    ):
        models = client.models(extra_headers={"X-Extra": "b"}, extra_query={"limit": 2})
    assert models == [
        Model(id="llama-3", created=17, owned_by="vllm"),
        Model(id="qwen3"),
    ]
    seen = server.seen[0]
    assert (seen.method, seen.target, seen.body) == ("GET", "/v1/models?limit=2", b"")
    assert (seen.headers["x-team"], seen.headers["x-extra"]) == ("a", "b")
    assert seen.headers["accept"] == "application/json"
    assert "content-length" not in seen.headers
    assert "content-type" not in seen.headers


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_models_is_retried_and_shares_the_pool(flavour: str) -> None:
    replies = [
        error_reply(503, "busy", retry_after="0"),
        _json_reply({"data": [{"id": "m"}]}),
        streamed_reply(["ok"], sse=True),
    ]
    with (
        ScriptedServer(*replies) as server,
        client_of(flavour, server.base_url + "/v1", max_retries=1, retry_backoff=0.001) as client,
    ):
        assert client.models() == [Model(id="m")]
        assert client.complete(model="m").text == "ok"
    assert [s.method for s in server.seen] == ["GET", "GET", "POST"]
    # An error leaves its connection unfit for reuse; the listing's carries the chat.
    assert server.connections == 2


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_models_error_is_raised(flavour: str) -> None:
    with (
        ScriptedServer(error_reply(401, "Invalid API key")) as server,
        client_of(flavour, server.base_url + "/v1") as client,
        pytest.raises(APIStatusError) as caught,
    ):
        client.models()
    assert (caught.value.status, caught.value.message) == (401, "Invalid API key")


# --- 404: the URL tried, and what was probably meant ---------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("base_path", "path", "tried", "hint"),
    [
        # PurAI's path under OpenAI's base URL (the issue's `purai chat --base-url
        # http://host/v1` before /v1 had its convention).
        (
            "/v1",
            "/openai/chat/completions",
            "/v1/openai/chat/completions",
            "under a base URL ending in /v1 the path is '/chat/completions' (leave path "
            "out); for PurAI's endpoints, did you mean base_url='{base}'?",
        ),
        (
            "/v1",
            "/v1/chat/completions",
            "/v1/v1/chat/completions",
            "the base URL ends in /v1 already: did you mean path='/chat/completions'?",
        ),
        (
            "",
            "/chat/completions",
            "/chat/completions",
            "an OpenAI-compatible server's base URL ends in /v1: did you mean "
            "base_url='{base}/v1'?",
        ),
    ],
)
def test_a_404_names_the_url_and_what_was_meant(
    flavour: str, base_path: str, path: str, tried: str, hint: str
) -> None:
    with (
        BackgroundServer(ServerConfig(quiet=True)) as server,
        client_of(flavour, server.base_url + base_path) as client,
        pytest.raises(APIStatusError) as caught,
    ):
        base = server.base_url
        client.complete(model="gpt-3.5-turbo", path=path)
    error = caught.value
    assert error.status == 404
    assert error.url == f"POST {base}{tried}"
    assert error.hint == hint.format(base=base)
    assert str(error) == f"HTTP 404: {error.message} ({error.url}); {error.hint}"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_404_from_an_openai_server_suggests_v1(flavour: str) -> None:
    # vLLM at http://host:8000 (no /v1): PurAI's default path is unknown to it.
    not_found = _json_reply({"detail": "Not Found"}, status=404)
    with (
        ScriptedServer(not_found) as server,
        client_of(flavour, server.base_url) as client,
    ):
        base = server.base_url
        with pytest.raises(APIStatusError) as chat:
            client.complete(model="m")
        with pytest.raises(APIStatusError) as models:
            client.models()
    suggestion = f"did you mean base_url='{base}/v1'?"
    assert chat.value.url == f"POST {base}/openai/chat/completions"
    assert models.value.url == f"GET {base}/openai/models"
    assert chat.value.hint == models.value.hint
    assert str(chat.value.hint).endswith(suggestion)


def test_a_404_on_the_usual_path_has_no_hint() -> None:
    # OpenAI answers 404 for a model that does not exist: the path was right.
    not_found = error_reply(404, "The model `gpt-9` does not exist")
    with (
        ScriptedServer(not_found) as server,
        client_of("blocking", server.base_url + "/v1") as client,
        pytest.raises(APIStatusError) as caught,
    ):
        base = server.base_url
        client.complete(model="gpt-9")
    assert caught.value.url == f"POST {base}/v1/chat/completions"
    assert caught.value.hint is None


def test_other_statuses_name_no_url() -> None:
    with (
        ScriptedServer(error_reply(400, "bad")) as server,
        client_of("blocking", server.base_url + "/v1") as client,
        pytest.raises(APIStatusError) as caught,
    ):
        client.complete(model="m")
    assert (caught.value.url, caught.value.hint, str(caught.value)) == (None, None, "HTTP 400: bad")


# --- the sans-IO side: a body-less GET, and a reply type per request -----------------------


@pytest.mark.parametrize("parser", ["h11", "httptools"])
def test_a_get_has_no_body_and_decodes_into_the_type_asked_for(parser: str) -> None:
    if parser == "httptools" and not httptools_available():
        pytest.skip("httptools is not installed")
    connection = ClientConnection("h", http_parser=parser)  # type: ignore[arg-type]
    data = connection.send_request(None, path="/v1/models", completion_type=ModelList)
    head_, _, body = data.partition(b"\r\n\r\n")
    assert head_.startswith(b"GET /v1/models HTTP/1.1\r\n")
    assert b"content-length" not in head_.lower()
    assert body == b""
    listing = b'{"object":"list","data":[{"id":"m","owned_by":"me"}]}'
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    connection.receive_data(reply % len(listing) + listing)
    events: list[Any] = [connection.next_event() for _ in range(3)]
    assert events[1] == CompletionReceived(
        completion=ModelList(data=[Model(id="m", owned_by="me")])
    )
    assert isinstance(events[2], StreamEnded)
    # The next request on the connection is decoded into the connection's own type.
    connection.send_request(ChatRequest(model="m"))
    whole = b'{"choices":[{"message":{"role":"assistant","content":"hi"}}]}'
    connection.receive_data(reply % len(whole) + whole)
    _, received, _ = (connection.next_event() for _ in range(3))
    assert isinstance(received, CompletionReceived)
    assert type(received.completion) is ChatCompletion


def test_a_reply_type_msgspec_cannot_decode_is_refused_at_sending() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection("h").send_request(None, path="/models", completion_type=object())
