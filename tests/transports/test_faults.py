"""The clients against scripted servers' faults: cuts, resets, stalls, bad framing,
every time limit, and whether a request left unanswered is sent again.

Every client flavour runs each test (``make_client``, ``conftest.py``), and every
test checks through ``no_leaked_fds`` that the client leaves no file descriptor open.
Only the library's own exceptions may come out. Time limits are behaviour here: a
test checks which exception a limit raises, never how long anything took.
"""

from __future__ import annotations

import time

import pytest

from purai_proto import PuraiError
from purai_transports import (
    ChunkTimeout,
    NetworkError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnectedError,
    Timeout,
    TotalTimeout,
    WriteTimeout,
)
from tests.helpers.clients import (
    GENEROUS,
    SEED_MESSAGES,
    SHORT,
    MakeClient,
    StartScripted,
    over_tcp_and_tls,
)
from tests.helpers.scripted_replies import (
    CLOSE,
    FIRST,
    HALF,
    HANG,
    JSON_HEAD,
    RESET,
    TEXT,
    TEXTS,
    Pause,
    Reply,
    Step,
    chunk_object,
    head,
    http_chunk,
    sse_event,
    streamed_reply,
)

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


# Bytes every 20 ms, for 2 s: an SSE comment (no chunk), or a chunk.
COMMENTS: list[Step] = [http_chunk(b": keep-alive\n\n"), Pause(0.02)] * 100
TRICKLE: list[Step] = [http_chunk(chunk_object("x")), Pause(0.02)] * 100

# (steps of the reply, the exception, the texts streamed before it)
FAULTS: dict[str, tuple[list[Step], type[PuraiError], list[str]]] = {
    # Written whole, then nothing: the server may have processed the request.
    "closed-before-headers": ([CLOSE], ServerDisconnectedError, []),
    "closed-inside-headers": ([b"HTTP/1.1 200 OK\r\nContent-Ty", CLOSE], RemoteProtocolError, []),
    "closed-after-headers": ([JSON_HEAD, CLOSE], RemoteProtocolError, []),
    "closed-mid-object": (
        [JSON_HEAD, FIRST, http_chunk(HALF), CLOSE],
        RemoteProtocolError,
        TEXTS[:1],
    ),
    "closed-mid-chunk-size": ([JSON_HEAD, FIRST, b"1", CLOSE], RemoteProtocolError, TEXTS[:1]),
    "closed-mid-chunk": (
        [JSON_HEAD, FIRST, b"40\r\n" + HALF, CLOSE],
        RemoteProtocolError,
        TEXTS[:1],
    ),
    "bad-chunk-size": ([JSON_HEAD, FIRST, b"zz\r\n{}\r\n", HANG], RemoteProtocolError, TEXTS[:1]),
    "content-length-too-long": (
        [
            head(200, [("Content-Type", "application/json"), ("Content-Length", "999")]),
            chunk_object(TEXTS[0]),
            CLOSE,
        ],
        RemoteProtocolError,
        TEXTS[:1],
    ),
    "content-length-too-short": (
        [
            head(200, [("Content-Type", "application/json"), ("Content-Length", "30")]),
            chunk_object(TEXTS[0]),
            HANG,
        ],
        RemoteProtocolError,
        [],
    ),
    "reset-before-reply": ([RESET], ServerDisconnectedError, []),
    "reset-mid-body": ([JSON_HEAD, FIRST, Pause(0.05), RESET], NetworkError, TEXTS[:1]),
    "stall": ([JSON_HEAD, FIRST, HANG], ReadTimeout, TEXTS[:1]),
    "stall-before-reply": ([HANG], ReadTimeout, []),
    "sse-comments-only": (
        [
            head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]),
            http_chunk(sse_event(chunk_object(TEXTS[0]))),
            *COMMENTS,
        ],
        ChunkTimeout,
        TEXTS[:1],
    ),
    "trickle-past-the-total": (
        [JSON_HEAD, *TRICKLE],
        TotalTimeout,
        ["x"] * 3,  # at least
    ),
}
# Each fault's limit runs out; the others stay far off.
FAULT_TIMEOUTS = {
    "stall": Timeout(read=SHORT, chunk=5.0),
    "stall-before-reply": Timeout(read=SHORT, chunk=5.0),
    "sse-comments-only": Timeout(read=5.0, chunk=SHORT),
    "trickle-past-the-total": Timeout(read=5.0, chunk=5.0, total=SHORT),
}


@over_tcp_and_tls
@pytest.mark.parametrize("fault", list(FAULTS))
def test_server_fault(
    make_client: MakeClient, scripted: StartScripted, tls: bool, fault: str
) -> None:
    steps, error, texts = FAULTS[fault]
    server = scripted(Reply(steps), tls=tls)
    client = make_client(server.base_url, timeout=FAULT_TIMEOUTS.get(fault, GENEROUS))
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    if error is NetworkError and tls and client.flavour == "blocking":
        # The ssl module reports a reset under TLS as an EOF that broke TLS's rules
        # (SSLEOFError), which is what a ragged close looks like too: the transport
        # can only hand EOF on, and the HTTP framing finds the reply cut short.
        error = RemoteProtocolError
    # Only the library's own exceptions: never OSError, ssl.SSLError, anyio.*, trio.*.
    assert type(streamed.error) is error, repr(streamed.error)
    if fault == "trickle-past-the-total":
        assert streamed.texts[: len(texts)] == texts
    else:
        assert streamed.texts == texts
    assert streamed.completion.text == "".join(streamed.texts)


@over_tcp_and_tls
@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        pytest.param(Timeout(read=5.0, chunk=5.0, total=SHORT), TotalTimeout, id="total"),
        pytest.param(Timeout(read=5.0, chunk=SHORT), ChunkTimeout, id="chunk"),
    ],
)
def test_deadline_passed_while_the_caller_held_a_chunk(
    make_client: MakeClient,
    scripted: StartScripted,
    tls: bool,
    timeout: Timeout,
    error: type[PuraiError],
) -> None:
    # The next read starts with no time left, and nothing more comes: it must raise
    # the limit's own error, not fail as if the connection broke.
    server = scripted(Reply([JSON_HEAD, FIRST, HANG]), tls=tls)
    client = make_client(server.base_url, timeout=timeout)
    streamed = client.stream(messages=SEED_MESSAGES, dawdle=SHORT + 0.1, keep_error=True)
    assert type(streamed.error) is error, repr(streamed.error)
    assert streamed.texts == TEXTS[:1]


def test_server_that_reads_nothing_is_a_write_timeout(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    server = scripted(mode="deaf")
    client = make_client(server.base_url, timeout=Timeout(connect=5.0, read=5.0, write=SHORT))
    # Far more than the client's send buffer and the server's receive window hold.
    huge = [{"role": "user", "content": "x" * (16 * 1024 * 1024)}]
    with pytest.raises(WriteTimeout):
        client.stream(messages=huge)


@over_tcp_and_tls
def test_request_read_then_unanswered_is_not_sent_again(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    # The server reads the second request on the kept connection, then closes it
    # without a word: it may have processed it, so the caller is told, not the
    # server asked twice.
    server = scripted(streamed_reply(TEXTS), Reply([CLOSE]), streamed_reply(TEXTS), tls=tls)
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert type(streamed.error) is ServerDisconnectedError, repr(streamed.error)
    assert "may have processed" in str(streamed.error)
    assert len(server.seen) == 2  # sent once
    assert client.stream(messages=SEED_MESSAGES).text == TEXT  # on a new connection
    assert (server.connections, len(server.seen)) == (2, 3)


@over_tcp_and_tls
def test_request_read_then_unanswered_is_resent_when_asked(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    # Opted in: the keep-alive race is taken for one, and the request sent once more
    # on a new connection, without counting as a retry (max_retries is 0).
    server = scripted(streamed_reply(TEXTS), Reply([CLOSE]), streamed_reply(TEXTS), tls=tls)
    client = make_client(server.base_url, resend_unanswered=True)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert (server.connections, len(server.seen)) == (2, 3)


def test_unanswered_on_a_new_connection_is_never_resent(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    # resend_unanswered is for the keep-alive race only: a new connection that
    # closes unanswered is the server's failure, and is not retried either.
    server = scripted(Reply([CLOSE]))
    client = make_client(server.base_url, resend_unanswered=True, max_retries=2)
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert type(streamed.error) is ServerDisconnectedError, repr(streamed.error)
    assert len(server.seen) == 1


@over_tcp_and_tls
def test_pooled_connection_closed_while_idle_is_replaced(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    # HTTP/1.1 without "Connection: close" is kept alive, but the server closes it
    # as soon as the reply is out, as a server whose idle timeout ran out does.
    reply = streamed_reply(TEXTS)
    server = scripted(Reply([*reply.steps, CLOSE]), tls=tls)
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    # Idle long enough for the close to arrive. (A request sent in the microseconds
    # before it does meets the close after it was written: ServerDisconnectedError,
    # as tests/transports/test_pool.py shows; resend_unanswered=True opts in to re-sending.)
    time.sleep(0.05)
    assert client.stream(messages=SEED_MESSAGES).text == TEXT
    assert server.connections == 2
