"""The transports, over real loopback TCP and TLS, against real servers.

Every client flavour runs the same tests, written once: the blocking ``Client``,
``AsyncClient`` on asyncio and on trio, and the native ``TrioClient``. A test drives a
:class:`tests.helpers.clients.ClientUnderTest`, which calls the blocking client
directly and runs the async ones in an event loop of their own (an anyio blocking
portal), so that one test can make several calls through one client, as keep-alive
needs. Cancellation is async
only, and is tested natively under ``@pytest.mark.anyio`` and ``@pytest.mark.trio``.

The servers are the stand-in server (replies as PurAI and OpenAI send them) and
:class:`tests.helpers.servers.ScriptedServer` (exactly the bytes a test asks for, faults
included). TLS certificates are made by trustme for each test session (``conftest.py``).

Every test checks, through :func:`no_leaked_fds`, that the client leaves no file
descriptor open behind it: after a normal end, an abandoned stream, a cancellation and
every fault. Time limits are behaviour here: a test checks which exception a limit
raises, never how long anything took.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import anyio.from_thread
import pytest
import trio
import trustme

from purai_proto import (
    ChatRequest,
    LocalProtocolError,
    Message,
    PuraiError,
)
from purai_transports import (
    APIStatusError,
    ChunkTimeout,
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnectedError,
    StreamError,
    Timeout,
    TLSError,
    TotalTimeout,
    WriteTimeout,
)
from purai_transports.anyio import AsyncClient
from purai_transports.trio import TrioClient
from tests.helpers.clients import (
    GENEROUS,
    SEED_MESSAGES,
    SEED_PIECES,
    SEED_PROMPT,
    SEED_TEXT,
    SHORT,
    MakeClient,
    StartScripted,
    Stop,
    over_tcp_and_tls,
)
from tests.helpers.scripted_replies import (
    CLOSE,
    HANG,
    RAGGED,
    RESET,
    Pause,
    Reply,
    Step,
    chunk_object,
    error_reply,
    head,
    http_chunk,
    sse_event,
    streamed_reply,
)
from tests.helpers.servers import ScriptedServer, closed_port, server_context, unanswered_port

pytestmark = pytest.mark.usefixtures("no_leaked_fds")

# Text that a decoder cutting at the wrong place would garble: multi-byte UTF-8 (two
# and four bytes) and the "}{" that naive splitters cut PurAI's stream at.
TEXTS = ["Hel", "lo, ", "wörld", ' }{"', "🚀!"]
TEXT = "".join(TEXTS)
OPENAI_PATH = "/v1/chat/completions"
API_KEY = "sk-test-5be6f0c1d2a34e7f"
JSON_HEAD = head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])


# --- the stand-in server: every framing it speaks ---------------------------------------


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


# --- scripted servers: good replies ----------------------------------------------------


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


# --- scripted servers: faults --------------------------------------------------------

FIRST = http_chunk(chunk_object(TEXTS[0]))
HALF = chunk_object(TEXTS[1])[:20]
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


# --- TLS ------------------------------------------------------------------------------


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


# --- retries --------------------------------------------------------------------------


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


# --- cancellation, natively ------------------------------------------------------------

AsyncClientType = type[AsyncClient] | type[TrioClient]
MoveOnAfter = Callable[[float], contextlib.AbstractContextManager[Any]]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def async_client(
    cls: AsyncClientType, base_url: str, verify: ssl.SSLContext, **options: Any
) -> AsyncIterator[Any]:
    options.setdefault("timeout", GENEROUS)
    options.setdefault("max_retries", 0)
    async with cls(base_url, verify=verify, **options) as client:
        yield client


# The scenarios below are written once and run by an anyio test (AsyncClient on
# asyncio and on trio, cancelled with anyio.move_on_after) and by a trio test
# (TrioClient, cancelled with trio.move_on_after). A blocking wait for the server
# (client_left) in async code is fine here: the loop has nothing else to do meanwhile.


async def cancelled_stream_closes_its_connection(
    cls: AsyncClientType,
    move_on_after: MoveOnAfter,
    server: ScriptedServer,
    verify: ssl.SSLContext,
) -> None:
    # One slot: the cancelled stream must give it back, or the next one never starts.
    async with async_client(cls, server.base_url, verify, max_connections=1) as client:
        texts: list[str] = []
        with move_on_after(SHORT) as scope:
            async with client.stream(messages=SEED_MESSAGES) as stream:
                async for chunk in stream:
                    texts.append(chunk.text)
        assert scope.cancelled_caught  # inside a read of the stalled stream
        assert texts == TEXTS[:1]
        assert server.client_left(0), "the cancelled stream's connection is still open"
        async with client.stream(messages=SEED_MESSAGES) as stream:
            assert [chunk.text async for chunk in stream] == TEXTS
    assert server.connections == 2


async def cancelled_request_closes_its_connection(
    cls: AsyncClientType,
    move_on_after: MoveOnAfter,
    server: ScriptedServer,
    verify: ssl.SSLContext,
) -> None:
    async with async_client(cls, server.base_url, verify) as client:
        with move_on_after(SHORT) as scope:
            await client.complete(messages=SEED_MESSAGES)
        assert scope.cancelled_caught
    assert server.client_left(0), "the connection cancelled halfway is still open"


async def cancelled_retry_wait_ends_quietly(
    cls: AsyncClientType,
    move_on_after: MoveOnAfter,
    server: ScriptedServer,
    verify: ssl.SSLContext,
) -> None:
    async with async_client(cls, server.base_url, verify, max_retries=1) as client:
        with move_on_after(SHORT) as scope:
            await client.complete(messages=SEED_MESSAGES)
        assert scope.cancelled_caught
    assert len(server.seen) == 1


Scenario = Callable[[AsyncClientType, MoveOnAfter, ScriptedServer, ssl.SSLContext], Awaitable[None]]
STALLED = Reply([JSON_HEAD, FIRST, HANG])
# (the scenario, the scripted server's arguments)
CANCELLATIONS: dict[str, tuple[Scenario, dict[str, Any]]] = {
    "mid-stream": (
        cancelled_stream_closes_its_connection,
        {"replies": [STALLED, streamed_reply(TEXTS)]},
    ),
    "mid-stream-tls": (
        cancelled_stream_closes_its_connection,
        {"replies": [STALLED, streamed_reply(TEXTS)], "tls": True},
    ),
    "awaiting-the-reply": (cancelled_request_closes_its_connection, {"replies": [Reply([HANG])]}),
    "in-the-tls-handshake": (
        cancelled_request_closes_its_connection,
        {"mode": "silent", "tls": True},
    ),
    # Retry-After asks for far longer than the test: only cancellation ends the wait.
    "in-the-retry-wait": (
        cancelled_retry_wait_ends_quietly,
        {"replies": [error_reply(503, "busy", retry_after="30")]},
    ),
}


def _start_for(case: str, scripted: StartScripted) -> tuple[Scenario, ScriptedServer]:
    scenario, arguments = CANCELLATIONS[case]
    options = dict(arguments)
    replies = options.pop("replies", [])
    return scenario, scripted(*replies, **options)


@pytest.mark.parametrize("case", list(CANCELLATIONS))
@pytest.mark.anyio
async def test_anyio_cancellation(
    scripted: StartScripted, client_tls: ssl.SSLContext, case: str
) -> None:
    scenario, server = _start_for(case, scripted)
    await scenario(AsyncClient, anyio.move_on_after, server, client_tls)


@pytest.mark.parametrize("case", list(CANCELLATIONS))
@pytest.mark.trio
async def test_trio_cancellation(
    scripted: StartScripted, client_tls: ssl.SSLContext, case: str
) -> None:
    scenario, server = _start_for(case, scripted)
    await scenario(TrioClient, trio.move_on_after, server, client_tls)
