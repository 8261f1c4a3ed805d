"""The clients against scripted servers' good replies: the exact text, keep-alive,
leaving a stream early, a close-delimited body, gzip, a byte at a time, the request sent.

Every client flavour runs each test (``make_client``, ``conftest.py``), and every
test checks through ``no_leaked_fds`` that the client leaves no file descriptor open.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from purai_proto import LocalProtocolError
from tests.helpers.clients import (
    API_KEY,
    SEED_MESSAGES,
    MakeClient,
    StartScripted,
    Stop,
    over_tcp_and_tls,
)
from tests.helpers.scripted_replies import (
    HANG,
    JSON_HEAD,
    TEXT,
    TEXTS,
    Pause,
    Reply,
    Step,
    chunk_object,
    head,
    http_chunk,
    streamed_reply,
)

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


@over_tcp_and_tls
def test_streams_the_exact_text(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    server = scripted(streamed_reply(TEXTS, pause=0.002), tls=tls)
    streamed = make_client(server.base_url).stream(messages=SEED_MESSAGES)
    assert streamed.texts == TEXTS
    assert streamed.completion.text == TEXT


@over_tcp_and_tls
def test_keep_alive_uses_one_connection(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=tls)
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert client.complete(messages=SEED_MESSAGES, stream=True).text == TEXT
    assert (server.connections, len(server.seen)) == (1, 3)


@pytest.mark.parametrize(
    "options",
    [{"max_keepalive": 0}, {"keepalive_expiry": 0.05}],
    ids=["max_keepalive-0", "expired"],
)
def test_connections_kept_no_longer_than_allowed(
    make_client: MakeClient, scripted: StartScripted, options: dict[str, Any]
) -> None:
    server = scripted(streamed_reply(TEXTS))
    client = make_client(server.base_url, **options)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    time.sleep(0.1)  # past keepalive_expiry: the idle connection must not be reused
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert server.connections == 2
    assert server.client_left(0), "the connection not kept was left open"


def test_closed_client(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(streamed_reply(TEXTS))
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    client.close()
    assert server.client_left(0), "closing the client left its idle connection open"
    with pytest.raises(LocalProtocolError, match="closed"):
        client.stream(messages=SEED_MESSAGES)


@over_tcp_and_tls
@pytest.mark.parametrize("stop", list(Stop), ids=lambda stop: stop.value)
def test_abandoned_stream_closes_its_connection(
    make_client: MakeClient, scripted: StartScripted, tls: bool, stop: Stop
) -> None:
    # The first reply stops halfway and waits: only the client can end it.
    halfway = Reply([JSON_HEAD, http_chunk(chunk_object("a")), http_chunk(chunk_object("b")), HANG])
    server = scripted(halfway, streamed_reply(TEXTS), tls=tls)
    client = make_client(server.base_url)
    abandoned = client.stream(messages=SEED_MESSAGES, stop=stop, after=1)
    assert (abandoned.texts, abandoned.completion.text) == (["a"], "a")
    assert server.client_left(0), "the abandoned stream's connection is still open"
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert server.connections == 2


@over_tcp_and_tls
def test_http10_body_delimited_by_close(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    objects = b"".join(chunk_object(text) for text in TEXTS)
    reply = Reply([head(200, [("Content-Type", "application/json")], version="1.0"), objects])
    server = scripted(reply, tls=tls)
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).texts == TEXTS
    assert client.complete(messages=SEED_MESSAGES, stream=True).text == TEXT
    assert server.connections == 2  # a body that ends with the connection ends it


@over_tcp_and_tls
@pytest.mark.parametrize("sse", [False, True], ids=["purai", "sse"])
def test_gzip_compressed_chunked_body(
    make_client: MakeClient, scripted: StartScripted, tls: bool, sse: bool
) -> None:
    server = scripted(streamed_reply(TEXTS, sse=sse, gzip=True, pause=0.002), tls=tls)
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).texts == TEXTS
    assert client.stream(messages=SEED_MESSAGES).texts == TEXTS
    assert server.connections == 1


@over_tcp_and_tls
def test_byte_at_a_time(make_client: MakeClient, scripted: StartScripted, tls: bool) -> None:
    whole = b"".join(step for step in streamed_reply(TEXTS).steps if isinstance(step, bytes))
    trickle: list[Step] = []
    for byte in whole:
        trickle += [bytes([byte]), Pause(0.0001)]
    server = scripted(Reply(trickle), tls=tls)
    assert make_client(server.base_url).stream(messages=SEED_MESSAGES).texts == TEXTS


def test_base_url_with_a_path_prefix(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(streamed_reply(TEXTS))
    client = make_client(server.base_url + "/prefix/")
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert client.stream(messages=SEED_MESSAGES, path="/v1/chat/completions").text == TEXT
    targets = [seen.target for seen in server.seen]
    assert targets == ["/prefix/openai/chat/completions", "/prefix/v1/chat/completions"]


def test_api_key_and_headers_are_sent(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(streamed_reply(TEXTS))
    client = make_client(server.base_url, api_key=API_KEY, headers={"X-Team": "purai"})
    client.stream(messages=SEED_MESSAGES, headers={"X-Request": "1"})
    headers = server.seen[0].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert (headers["x-team"], headers["x-request"]) == ("purai", "1")
