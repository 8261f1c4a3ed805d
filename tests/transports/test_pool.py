"""The connection pool against servers that misbehave, over real loopback TCP and TLS.

A reply must reach only the request it answers. Every request here is numbered: the
server's reply to request ``i`` says ``r{i}`` in each chunk, so a stream that yields a
chunk of another request's reply is caught, whichever way it got there. The faults
are the ones servers and proxies commit on kept-alive connections: bytes after the
end of a reply (a late second reply, a body longer than its ``Content-Length``, bytes
after a ``204``) and the ``408`` that Apache, HAProxy and Varnish write on a
connection that sat idle too long. Each runs on every client flavour, with both HTTP
parsers, over TCP and TLS.

The clients, servers and the descriptor check are the transport tests' own
(``tests/transports/conftest.py``, :mod:`tests.helpers.clients`).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import msgspec
import pytest

from purai_proto import ChatCompletion
from purai_transports import (
    APIStatusError,
    ChunkTimeout,
    ConnectTimeout,
    LocalProtocolError,
    NetworkError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnectedError,
    Timeout,
    WriteTimeout,
)
from purai_transports._backends.anyio import AnyioBackend
from purai_transports._backends.sockets import SocketBackend
from purai_transports._backends.trio import TrioBackend
from purai_transports._core.operations import Connect
from purai_transports._core.settings import Origin
from purai_transports.blocking import Client
from tests.helpers.clients import (
    SEED_MESSAGES,
    SHORT,
    MakeClient,
    StartScripted,
    over_tcp_and_tls,
)
from tests.helpers.parsers import HTTP_PARSERS
from tests.helpers.scripted_replies import (
    CLOSE,
    HALF_CLOSE,
    HANG,
    RESET,
    TIMEOUT_408,
    Pause,
    Reply,
    Step,
    chunk_object,
    head,
    streamed_reply,
)

pytestmark = pytest.mark.usefixtures("no_leaked_fds")

over_both_parsers = pytest.mark.parametrize("parser", HTTP_PARSERS)

# Longer than any pause below: the stray bytes of one reply have arrived (in a TCP
# segment of their own) before the next request is made.
SETTLE = 0.15
REQUESTS = 3


def numbered(i: int) -> list[str]:
    return [f"r{i}.", f"r{i}!"]


def length_reply(texts: list[str], *, extra: bytes = b"") -> list[Step]:
    """A reply whose body is framed by Content-Length; ``extra`` follows the body."""
    body = b"".join(chunk_object(text) for text in texts)
    fields = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return [head(200, fields) + body + extra]


def _reply_steps(i: int) -> list[Step]:
    return list(streamed_reply(numbered(i)).steps)


# What the server sends for request i, after which the connection is left open.
FAULTS: dict[str, Callable[[int], list[Step]]] = {
    "late-second-reply": lambda i: [*_reply_steps(i), Pause(0.05), *_reply_steps(i)],
    "body-past-content-length": lambda i: [
        *length_reply(numbered(i)),
        Pause(0.1),
        chunk_object(f"r{i}?"),
    ],
    "body-past-content-length-same-write": lambda i: length_reply(
        numbered(i), extra=chunk_object(f"r{i}?")
    ),
    "204-then-bytes": lambda i: [
        head(204, [], reason="No Content"),
        Pause(0.05),
        *_reply_steps(i),
    ],
    "408-while-idle": lambda i: [*_reply_steps(i), Pause(0.05), TIMEOUT_408, CLOSE],
}


@over_tcp_and_tls
@over_both_parsers
@pytest.mark.parametrize("fault", list(FAULTS))
def test_stray_bytes_never_reach_another_request(
    make_client: MakeClient, scripted: StartScripted, tls: bool, parser: str, fault: str
) -> None:
    replies = [Reply(FAULTS[fault](i), keep_alive=True) for i in range(REQUESTS)]
    server = scripted(*replies, tls=tls)
    client = make_client(server.base_url, http_parser=parser)
    for i in range(REQUESTS):
        streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
        assert streamed.error is None, repr(streamed.error)
        expected = [] if fault == "204-then-bytes" else numbered(i)
        assert streamed.texts == expected, f"request {i} got {streamed.texts}"
        time.sleep(SETTLE)
    # Every connection that carried stray bytes was closed, never reused: one each.
    assert (server.connections, len(server.seen)) == (REQUESTS, REQUESTS)


@over_tcp_and_tls
@over_both_parsers
def test_idle_connection_closed_by_the_server_is_not_an_error(
    make_client: MakeClient, scripted: StartScripted, tls: bool, parser: str
) -> None:
    # The server's keep-alive timer closes the connection while it sits in the
    # pool: the next request sees no error, and is sent once, on a new connection.
    replies = [Reply([*_reply_steps(i), Pause(0.02), CLOSE]) for i in range(REQUESTS)]
    server = scripted(*replies, tls=tls)
    client = make_client(server.base_url, http_parser=parser)
    for i in range(REQUESTS):
        assert client.stream(messages=SEED_MESSAGES).texts == numbered(i)
        time.sleep(SETTLE)
    assert (server.connections, len(server.seen)) == (REQUESTS, REQUESTS)


@over_tcp_and_tls
def test_healthy_keep_alive_still_reuses(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    # The check before reuse closes only connections that are readable.
    server = scripted(*[Reply(_reply_steps(i), keep_alive=True) for i in range(REQUESTS)], tls=tls)
    client = make_client(server.base_url)
    for i in range(REQUESTS):
        assert client.stream(messages=SEED_MESSAGES).texts == numbered(i)
        time.sleep(0.02)
    assert server.connections == 1


# --- every wait is bounded -----------------------------------------------------------

# One byte every 20 ms for ever (2 s here), in each place a reply can be slow.
ONE_BYTE: list[Step] = [b"X", Pause(0.02)]
TRICKLED_HEAD: list[Step] = [b"H", Pause(0.02), b"TTP/1.1 200 OK\r\n", *ONE_BYTE * 100]
CONTINUES: list[Step] = [b"HTTP/1.1 100 Continue\r\n\r\n", Pause(0.02)] * 30
TRICKLED_503: list[Step] = [
    head(503, [("Content-Type", "application/json"), ("Content-Length", "1000")]),
    *ONE_BYTE * 100,  # the body
]
SLOW = {"trickled-head": TRICKLED_HEAD, "100-continue": CONTINUES, "trickled-503": TRICKLED_503}


@over_tcp_and_tls
@pytest.mark.parametrize("case", list(SLOW))
def test_chunk_deadline_covers_head_1xx_and_error_body(
    make_client: MakeClient, scripted: StartScripted, tls: bool, case: str
) -> None:
    # Bytes keep arriving, so the read limit never runs out; the chunk limit, which
    # starts when the request is written, does. No total is set (the default).
    server = scripted(Reply([*SLOW[case], HANG]), tls=tls)
    client = make_client(server.base_url, timeout=Timeout(read=5.0, chunk=SHORT), max_retries=1)
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert type(streamed.error) is ChunkTimeout, repr(streamed.error)


def test_too_many_1xx_responses(make_client: MakeClient, scripted: StartScripted) -> None:
    server = scripted(Reply([b"HTTP/1.1 102 Processing\r\n\r\n" * 40, HANG]))
    client = make_client(server.base_url)
    streamed = client.stream(messages=SEED_MESSAGES, keep_error=True)
    assert type(streamed.error) is RemoteProtocolError, repr(streamed.error)
    assert "1xx responses" in str(streamed.error)


# --- what is sent again, and what is not -------------------------------------------


@over_tcp_and_tls
@over_both_parsers
def test_early_reply_before_the_body_was_read(
    make_client: MakeClient, scripted: StartScripted, tls: bool, parser: str
) -> None:
    # The server refuses a body too large from its head alone, ends its side, and
    # closes a moment later without reading the body (the kernel then resets the
    # connection): the client's write fails, and the answer is the 413, not the
    # broken pipe. (A server that closes at once may reset the connection before
    # its own reply has left: then there is nothing any client could read.)
    body = msgspec.json.encode({"status": 413, "error": {"message": "request too large"}})
    fields = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    refusal = Reply(
        [head(413, fields, reason="Payload Too Large") + body, HALF_CLOSE, Pause(0.2), CLOSE],
        read_body=False,
    )
    server = scripted(refusal, tls=tls)
    client = make_client(server.base_url, http_parser=parser)
    huge = [{"role": "user", "content": "x" * (32 * 1024 * 1024)}]
    with pytest.raises(APIStatusError) as info:
        client.stream(messages=huge)
    assert info.value.status == 413
    assert "request too large" in info.value.message


@over_tcp_and_tls
def test_failed_write_on_a_reused_connection_is_resent(
    make_client: MakeClient, scripted: StartScripted, tls: bool
) -> None:
    # The pooled connection looks open, but the server resets it as soon as it has
    # the next request's head, while the body is still being written: the server
    # cannot have received that request whole, so it goes again, on a new
    # connection, and the caller sees only the reply.
    huge = [{"role": "user", "content": "x" * (32 * 1024 * 1024)}]
    server = scripted(
        streamed_reply(numbered(0)),
        Reply([RESET], read_body=False),
        streamed_reply(numbered(2)),
        tls=tls,
    )
    client = make_client(server.base_url)
    assert client.stream(messages=SEED_MESSAGES).texts == numbered(0)
    assert client.stream(messages=huge).texts == numbered(2)
    assert (server.connections, len(server.seen)) == (2, 3)


# --- empty replies -------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param([head(204, [], reason="No Content")], id="204"),
        pytest.param([head(200, [("Content-Length", "0")])], id="empty-200"),
        pytest.param(
            [
                head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]),
                b"0\r\n\r\n",
            ],
            id="empty-chunked-200",
        ),
    ],
)
def test_empty_reply_is_no_completion(
    make_client: MakeClient, scripted: StartScripted, reply: list[Step]
) -> None:
    server = scripted(Reply(reply, keep_alive=True))
    client = make_client(server.base_url)
    with pytest.raises(RemoteProtocolError, match="no completion"):
        client.complete(messages=SEED_MESSAGES)
    with pytest.raises(RemoteProtocolError, match="no completion"):
        client.complete(messages=SEED_MESSAGES, stream=True)
    # A stream may be empty: it yields nothing.
    assert client.stream(messages=SEED_MESSAGES).texts == []


def test_complete_still_returns_a_completion(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    body = msgspec.json.encode(ChatCompletion(id="c", model="m", created=0, choices=[]))
    fields = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    server = scripted(Reply([head(200, fields) + body]))
    assert make_client(server.base_url).complete(messages=SEED_MESSAGES).id == "c"


# --- bad settings, refused before any connection -----------------------------------

BAD_SETTINGS: dict[str, tuple[dict[str, Any], str]] = {
    "api-key-with-crlf": ({"api_key": "sk-1\r\nX-Evil: 1"}, "API key"),
    "header-with-lf": ({"headers": {"X-A": "a\nb"}}, "header X-A"),
    "base-url-not-a-str": ({"base_url": 123}, "base_url must be a str"),
    "port-0": ({"base_url": "http://127.0.0.1:0"}, "port 0"),
    "max-retries-a-str": ({"max_retries": "2"}, "max_retries"),
    "max-retries-negative": ({"max_retries": -1}, "max_retries"),
    "timeout-a-str": ({"timeout": "5"}, "timeout must be"),
    "backoff-inf": ({"retry_backoff": float("inf")}, "retry_backoff"),
    "backoff-nan": ({"retry_backoff": float("nan")}, "retry_backoff"),
    "keepalive-expiry-nan": ({"keepalive_expiry": float("nan")}, "keepalive_expiry"),
    "unknown-parser": ({"http_parser": "llhttp"}, "http_parser"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_bad_client_setting_is_refused_before_connecting(
    make_client: MakeClient, scripted: StartScripted, case: str
) -> None:
    server = scripted(Reply([HANG]))
    options, message = BAD_SETTINGS[case]
    options = dict(options)
    base_url = options.pop("base_url", server.base_url)
    with pytest.raises(LocalProtocolError, match=message):
        make_client(base_url, **options)
    assert server.connections == 0


def test_the_blocking_client_takes_no_max_connections() -> None:
    # Each blocking call holds one connection while it runs: there is nothing to bound.
    with pytest.raises(LocalProtocolError, match="takes no max_connections"):
        Client("http://127.0.0.1:1", max_connections=5)


BAD_REQUESTS: dict[str, tuple[dict[str, Any], str]] = {
    "surrogate-in-content": (
        {"messages": [{"role": "user", "content": "a\udc80"}]},
        r"messages\[0\].content holds a lone surrogate",
    ),
    "surrogate-in-model": ({"model": "gpt\ud800"}, "request.model holds a lone surrogate"),
    "messages-none": ({"messages": None}, "messages must be a list"),
    "temperature-nan": ({"temperature": float("nan")}, "request.temperature is nan"),
    "top-p-inf": ({"top_p": float("inf")}, "request.top_p is inf"),
    "logit-bias-nan": ({"logit_bias": {"42": float("nan")}}, "logit_bias"),
    "header-with-crlf": ({"headers": {"X-A": "1\r\nX-B: 2"}}, "header X-A"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_is_refused_before_connecting(
    make_client: MakeClient, scripted: StartScripted, case: str
) -> None:
    server = scripted(Reply([HANG]))
    client = make_client(server.base_url)
    fields, message = BAD_REQUESTS[case]
    fields = {"messages": SEED_MESSAGES, **fields}
    with pytest.raises(LocalProtocolError, match=message):
        client.stream(**fields)
    assert server.connections == 0


def test_timeout_refuses_what_is_not_seconds() -> None:
    for value in ["5", True, 0, -1.0, float("nan"), float("inf")]:
        with pytest.raises(LocalProtocolError, match=r"Timeout\.read must be a positive number"):
            Timeout(read=value)  # type: ignore[arg-type]


def test_network_error_is_still_a_network_error() -> None:
    # ServerDisconnectedError is a NetworkError: code that caught those keeps working.
    assert issubclass(ServerDisconnectedError, NetworkError)


# --- the TLS context: made when needed, once ---------------------------------------


@pytest.fixture
def contexts_made(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every context ``ssl.create_default_context`` makes from now on."""
    made: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(create(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return made


def test_an_http_client_makes_no_tls_context(
    make_client: MakeClient, scripted: StartScripted, contexts_made: list[ssl.SSLContext]
) -> None:
    # Loading the system's trust store costs more than a request: http:// never needs it.
    server = scripted(streamed_reply(["a"]))
    client = make_client(server.base_url, verify=True)
    assert client.stream(messages=SEED_MESSAGES).texts == ["a"]
    assert contexts_made == []


def test_an_https_client_makes_one_tls_context_for_all_its_connections(
    make_client: MakeClient, scripted: StartScripted, contexts_made: list[ssl.SSLContext]
) -> None:
    # Each reply closes its connection, so the second request connects again.
    server = scripted(streamed_reply(["a"], keep_alive=False), tls=True)
    client = make_client(server.base_url, verify=False)
    assert contexts_made == []  # not before the first connection
    for _ in range(2):
        assert client.stream(messages=SEED_MESSAGES).texts == ["a"]
    assert server.connections == 2
    assert len(contexts_made) == 1


@pytest.mark.parametrize("client", ["blocking:Client", "anyio:AsyncClient", "trio:TrioClient"])
def test_making_a_client_imports_no_parser_and_makes_no_connection(client: str) -> None:
    # Every short script pays for what a client builds before its first request: the
    # HTTP parser (httptools) and the connection's decoders wait for the first one.
    module, name = client.split(":")
    code = (
        "import sys\n"
        "import purai_proto\n"
        "made = []\n"
        "init = purai_proto.ClientConnection.__init__\n"
        "def counting(self, *a, **k):\n"
        "    made.append(1)\n"
        "    init(self, *a, **k)\n"
        "purai_proto.ClientConnection.__init__ = counting\n"
        f"from purai_transports.{module} import {name}\n"
        f"{name}('http://127.0.0.1:9', api_key='k', http_parser='auto')\n"
        "print('httptools' in sys.modules, len(made))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "0"]


# --- what the backends hold ----------------------------------------------------------


@pytest.fixture
def two_tls_records(server_tls: ssl.SSLContext) -> Iterator[int]:
    """A TLS server on loopback that, once sent a byte, answers ``first`` and
    ``second`` in two TLS records of one TCP segment (corked), then waits."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        sock, _ = listener.accept()
        with server_tls.wrap_socket(sock, server_side=True) as tls:
            tls.recv(1)
            tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            tls.sendall(b"first")
            tls.sendall(b"second")
            tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            done.wait(5.0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    done.set()
    thread.join()
    listener.close()


@pytest.mark.skipif(not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux's")
@pytest.mark.parametrize("backend", ["sockets", "anyio-asyncio", "anyio-trio", "trio"])
def test_a_record_held_by_tls_counts_as_readable(
    two_tls_records: int, client_tls: ssl.SSLContext, backend: str
) -> None:
    # anyio's and trio's TLS read both records from the socket and hand out one:
    # the second waits in their memory BIO, where polling the socket cannot see it.
    op = Connect(Origin.parse(f"https://127.0.0.1:{two_tls_records}"), 5.0, ConnectTimeout)
    if backend == "sockets":
        stream = SocketBackend(client_tls).connect(op)
        stream.write(b"?", 5.0, WriteTimeout)
        time.sleep(0.1)  # both records are in
        assert stream.read(5.0, ReadTimeout) == b"first"
        assert stream.is_readable()
        stream.close()
        return

    async def read_one() -> tuple[bytes, bool]:
        factory = TrioBackend if backend == "trio" else AnyioBackend
        stream = await factory(client_tls).connect(op)
        try:
            await stream.write(b"?", 5.0, WriteTimeout)
            await anyio.sleep(0.1)
            return await stream.read(5.0, ReadTimeout), stream.is_readable()
        finally:
            await stream.aclose()

    first, readable = anyio.run(
        read_one, backend="asyncio" if backend == "anyio-asyncio" else "trio"
    )
    assert (first, readable) == (b"first", True)
