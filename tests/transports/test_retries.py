"""The clients' retries: statuses, Retry-After, failed connections, the total deadline,
and no retry once a stream began or after a redirect.

Every client flavour runs each test (``make_client``, ``conftest.py``), and every
test checks through ``no_leaked_fds`` that the client leaves no file descriptor open.
"""

from __future__ import annotations

import pytest

from purai_transports import APIStatusError, ConnectError, RemoteProtocolError, Timeout
from tests.helpers.clients import GENEROUS, SEED_MESSAGES, MakeClient, StartScripted
from tests.helpers.scripted_replies import (
    CLOSE,
    FIRST,
    HALF,
    JSON_HEAD,
    TEXT,
    TEXTS,
    Reply,
    error_reply,
    head,
    http_chunk,
    streamed_reply,
)
from tests.helpers.servers import closed_port

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


def test_503_then_200_after_one_retry(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(error_reply(503, "busy", retry_after="0"), streamed_reply(TEXTS))
    client = make_client(server.base_url, max_retries=2, retry_backoff=0.01)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert len(server.seen) == 2


def test_a_redirect_names_where_it_points(make_client: MakeClient, scripted: StartScripted) -> None:
    target = "https://api.example/v1/chat/completions"
    body = b"<html><title>307 Temporary Redirect</title></html>"
    fields = [("Location", target), ("Content-Length", str(len(body)))]
    server = scripted(Reply([head(307, fields, reason="Temporary Redirect") + body]))
    client = make_client(server.base_url, max_retries=2)
    with pytest.raises(APIStatusError) as caught:
        client.complete(messages=SEED_MESSAGES)
    assert (caught.value.status, caught.value.message) == (
        307,
        f"redirected to {target} (redirects are not followed)",
    )
    assert len(server.seen) == 1  # not followed, not retried


def test_429_until_retries_run_out(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(error_reply(429, "slow down", retry_after="0"))
    client = make_client(server.base_url, max_retries=2, retry_backoff=0.01)
    with pytest.raises(APIStatusError) as caught:
        client.complete(messages=SEED_MESSAGES)
    error = caught.value
    assert (error.status, error.message, error.retry_after) == (429, "slow down", 0.0)
    assert len(server.seen) == 3


def test_connection_refused(make_client: MakeClient) -> None:
    client = make_client(f"http://127.0.0.1:{closed_port()}", max_retries=2, retry_backoff=0.01)
    with pytest.raises(ConnectError) as caught:
        client.stream(messages=SEED_MESSAGES)
    assert type(caught.value) is ConnectError


def test_failed_connections_are_retried(make_client: MakeClient, scripted: StartScripted) -> None:
    # A TLS handshake that breaks off each time: a connection error the server counts.
    server = scripted(mode="hang-up", tls=True)
    client = make_client(server.base_url, max_retries=2, retry_backoff=0.01)
    with pytest.raises(ConnectError) as caught:
        client.stream(messages=SEED_MESSAGES)
    assert type(caught.value) is ConnectError
    assert server.connections == 3


def test_connection_retries_stop_at_the_total_deadline(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    server = scripted(mode="hang-up", tls=True)
    timeout = Timeout(connect=5.0, total=0.4)
    client = make_client(server.base_url, max_retries=5, retry_backoff=0.5, timeout=timeout)
    with pytest.raises(ConnectError):
        client.stream(messages=SEED_MESSAGES)
    # The waits before the second and third attempts are 0.25 to 0.5 s and 0.5 to 1 s:
    # no third attempt fits in the limit, so it must not be made.
    assert server.connections <= 2


@pytest.mark.parametrize(
    ("retry_after", "timeout"),
    [
        pytest.param(30.0, Timeout(total=1.0), id="past-the-total-deadline"),
        pytest.param(120.0, GENEROUS, id="over-a-minute"),
    ],
)
def test_retry_after_too_long_to_wait_for(
    make_client: MakeClient, scripted: StartScripted, retry_after: float, timeout: Timeout
) -> None:
    busy = error_reply(503, "busy", retry_after=f"{retry_after:.0f}")
    server = scripted(busy, streamed_reply(TEXTS))
    client = make_client(server.base_url, max_retries=3, timeout=timeout)
    with pytest.raises(APIStatusError) as caught:
        client.stream(messages=SEED_MESSAGES)
    # Raised at once, with the wait asked for, for the caller to decide.
    assert (caught.value.status, caught.value.retry_after) == (503, retry_after)
    assert len(server.seen) == 1


def test_no_retry_once_the_stream_began(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(Reply([JSON_HEAD, FIRST, http_chunk(HALF), CLOSE]), streamed_reply(TEXTS))
    client = make_client(server.base_url, max_retries=3)
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert (type(streamed.error), streamed.texts) == (RemoteProtocolError, TEXTS[:1])
    assert len(server.seen) == 1
