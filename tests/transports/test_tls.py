"""The clients over TLS, and connections that never complete: a ragged EOF, a
certificate that does not verify, a plain-HTTP port, a handshake that never ends.

Every client flavour runs each test (``make_client``, ``conftest.py``), and every
test checks through ``no_leaked_fds`` that the client leaves no file descriptor open.
"""

from __future__ import annotations

import pytest
import trustme

from purai_proto import PuraiError
from purai_transports import ConnectTimeout, RemoteProtocolError, Timeout, TLSError, TotalTimeout
from tests.helpers.clients import SEED_MESSAGES, SHORT, MakeClient, StartScripted
from tests.helpers.scripted_replies import (
    FIRST,
    HALF,
    JSON_HEAD,
    RAGGED,
    TEXTS,
    Reply,
    Step,
    chunk_object,
    head,
    http_chunk,
    streamed_reply,
)
from tests.helpers.servers import server_context, unanswered_port

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        pytest.param([*streamed_reply(TEXTS).steps, RAGGED], None, id="after-chunked-body"),
        pytest.param(
            [
                head(200, [("Content-Type", "application/json")], version="1.0"),
                *(chunk_object(text) for text in TEXTS),
                RAGGED,
            ],
            None,
            id="ending-close-delimited-body",
        ),
        pytest.param([JSON_HEAD, FIRST, RAGGED], RemoteProtocolError, id="mid-body"),
        pytest.param(
            [JSON_HEAD, FIRST, http_chunk(HALF), RAGGED], RemoteProtocolError, id="mid-object"
        ),
    ],
)
def test_tls_ragged_eof(
    make_client: MakeClient,
    scripted: StartScripted,
    steps: list[Step],
    error: type[PuraiError] | None,
) -> None:
    # Many HTTPS servers close without TLS's close_notify: the HTTP framing, not TLS,
    # tells a complete reply from a cut one.
    server = scripted(Reply(steps), tls=True)
    streamed = make_client(server.base_url).stream(messages=SEED_MESSAGES, keep_error=True)
    if error is None:
        assert streamed.error is None
        assert streamed.texts == TEXTS
    else:
        assert type(streamed.error) is error
        assert streamed.texts == TEXTS[:1]


@pytest.mark.parametrize("problem", ["untrusted", "wrong-hostname"])
def test_certificate_that_does_not_verify(
    make_client: MakeClient, scripted: StartScripted, ca: trustme.CA, problem: str
) -> None:
    if problem == "untrusted":
        cert = trustme.CA().issue_cert("127.0.0.1", "localhost")
    else:
        cert = ca.issue_cert("purai.example")
    server = scripted(streamed_reply(TEXTS), ssl_context=server_context(cert))
    client = make_client(server.base_url, max_retries=2)
    with pytest.raises(TLSError, match="certificate"):
        client.stream(messages=SEED_MESSAGES)
    # Not retried: the certificate would not verify the next time either.
    assert (server.connections, server.seen) == (1, [])


def test_https_to_a_plain_http_port_is_a_tls_error(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    server = scripted(mode="bad-request")
    url = server.base_url.replace("http://", "https://")
    client = make_client(url, max_retries=2)
    with pytest.raises(TLSError, match="plain-HTTP port"):
        client.stream(messages=SEED_MESSAGES)
    # Not retried: the port would answer in plain HTTP the next time too.
    assert server.connections == 1


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        pytest.param(Timeout(connect=SHORT), ConnectTimeout, id="connect"),
        pytest.param(Timeout(connect=5.0, total=SHORT), TotalTimeout, id="total"),
    ],
)
def test_connection_that_never_completes(
    make_client: MakeClient, timeout: Timeout, error: type[PuraiError]
) -> None:
    with unanswered_port() as port:
        client = make_client(f"http://127.0.0.1:{port}", timeout=timeout)
        with pytest.raises(error) as caught:
            client.stream(messages=SEED_MESSAGES)
    assert type(caught.value) is error


def test_tls_handshake_that_never_ends_is_a_connect_timeout(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    server = scripted(mode="silent", tls=True)
    client = make_client(server.base_url, timeout=Timeout(connect=SHORT))
    with pytest.raises(ConnectTimeout):
        client.stream(messages=SEED_MESSAGES)
    assert server.client_left(0), "the half-open connection was not closed"
