"""Keep-alive: several requests on one connection (h11 playing the server), and every
reason a connection cannot be reused: Connection: close, an error, a body not read to
the end, bytes after a reply."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import Any

import h11
import msgspec
import pytest

from purai_proto import (
    NEED_DATA,
    ClientConnection,
    HttpParserName,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseStarted,
    StreamAccumulator,
    StreamEnded,
)
from tests.helpers.connection import (
    NOT_STREAMED,
    STREAM,
    Raised,
    connect,
    drive,
    feeding_ways,
    kinds,
    new_connection,
    run,
    text_of,
)
from tests.helpers.replies import (
    COMPLETION,
    OPENAI_SSE,
    SEED,
    http_reply,
)
from tests.helpers.splitting import split_ways

# --- keep-alive ---------------------------------------------------------------------


def serve(
    server: h11.Connection,
    request_bytes: bytes,
    body: bytes,
    headers: list[tuple[str, str]],
    *,
    status: int = 200,
    pieces: int = 5,
) -> bytes:
    """h11 as the server: read the request, write the reply (chunked, unless told)."""
    server.receive_data(request_bytes)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    while not isinstance(server.next_event(), h11.EndOfMessage):
        pass
    out = server.send(h11.Response(status_code=status, headers=headers))
    step = max(1, len(body) // pieces)
    for i in range(0, len(body), step):
        out += server.send(h11.Data(data=body[i : i + step]))
    return out + server.send(h11.EndOfMessage())


def test_h11_server_chunked_sse_and_seed(http_parser: HttpParserName) -> None:
    for body, content_type, text in [
        (OPENAI_SSE, "text/event-stream", "Hello, world"),
        (SEED, "application/json", "AI language model."),
    ]:
        client = connect(http_parser=http_parser)
        reply = serve(
            h11.Connection(h11.SERVER),
            client.send_request(STREAM),
            body,
            [("Content-Type", content_type)],
        )
        assert b"transfer-encoding: chunked" in reply.lower()
        for pieces in feeding_ways(reply):
            client = connect(http_parser=http_parser)
            client.send_request(STREAM)
            assert text_of(drive(client, pieces, eof=False)) == text


WAYS = [name for name, _ in split_ways(b"xy")]


@pytest.mark.parametrize("way", WAYS)
def test_keep_alive_requests_on_one_connection(http_parser: HttpParserName, way: str) -> None:
    client = connect(http_parser=http_parser)
    server = h11.Connection(h11.SERVER)
    texts = []
    for request, body, headers in [
        (STREAM, SEED, [("Content-Type", "application/json")]),
        (
            STREAM,
            gzip.compress(OPENAI_SSE),
            [("Content-Type", "text/event-stream"), ("Content-Encoding", "gzip")],
        ),
        (NOT_STREAMED, msgspec.json.encode(COMPLETION), [("Content-Type", "application/json")]),
    ]:
        assert client.reusable
        reply = serve(server, client.send_request(request), body, headers)
        events = drive(client, dict(split_ways(reply))[way], eof=False)
        assert isinstance(events[-1], StreamEnded)
        texts.append(StreamAccumulator(events).completion().text)
        server.start_next_cycle()
    assert texts == ["AI language model.", "Hello, world", "Hi there."]
    assert client.reusable


def test_start_next_cycle_explicitly(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.start_next_cycle()  # nothing to do on a fresh connection
    client.send_request(STREAM)
    drive(client, [http_reply(SEED)], eof=False)
    client.start_next_cycle()
    assert client.reusable
    client.send_request(STREAM)
    events = drive(client, [http_reply(SEED)], eof=False)
    assert text_of(events) == "AI language model."


@pytest.mark.parametrize("way", WAYS)
def test_not_reusable_after_connection_close(http_parser: HttpParserName, way: str) -> None:
    client = connect(http_parser=http_parser)
    server = h11.Connection(h11.SERVER)
    reply = serve(server, client.send_request(STREAM), SEED, [("Connection", "close")])
    events = drive(client, dict(split_ways(reply))[way], eof=False)
    assert text_of(events) == "AI language model."
    assert not client.reusable
    with pytest.raises(LocalProtocolError, match=r"cannot be reused: .*Connection: close"):
        client.send_request(STREAM)
    with pytest.raises(LocalProtocolError, match="cannot be reused"):
        client.start_next_cycle()


def test_not_reusable_when_the_request_asked_to_close(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM, headers={"Connection": "close"})
    drive(client, [http_reply(SEED)], eof=False)
    assert not client.reusable


def test_not_reusable_after_an_error_reply(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    drive(client, [http_reply(b'{"error": "no"}', status=400)], eof=False)
    with pytest.raises(LocalProtocolError, match="reported an error"):
        client.send_request(STREAM)


def test_not_reusable_when_the_body_was_not_read_to_the_end(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    client.receive_data(http_reply(SEED)[:1000])
    assert isinstance(client.next_event(), ResponseStarted)
    assert not client.reusable
    with pytest.raises(LocalProtocolError, match="while the connection is receiving the body"):
        client.send_request(STREAM)
    with pytest.raises(LocalProtocolError, match="reply is in progress"):
        client.start_next_cycle()


def read_all(conn: ClientConnection, pieces: Iterable[bytes]) -> list[Any]:
    """Every piece fed, events drained up to StreamEnded (the rest only received)."""
    out: list[Any] = []
    for piece in pieces:
        conn.receive_data(piece)
        while not (out and isinstance(out[-1], (StreamEnded, Raised))):
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                out.append(Raised(str(exc)))
                break
            if event is NEED_DATA:
                break
            out.append(event)
    return out


@pytest.mark.parametrize("framing", ["chunked", "length"])
@pytest.mark.parametrize(
    "after",
    [
        b"",
        # CR and LF alone: llhttp skips them between responses, h11 keeps them.
        b"\r\n",
        b"\n",
        b"\r\n\r\n\r\n",
        b"x",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",  # a second response
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/",
    ],
)
def test_bytes_after_the_response(http_parser: HttpParserName, framing: str, after: bytes) -> None:
    reply = http_reply(SEED, framing=framing)
    for pieces in feeding_ways(reply + after):
        conn = new_connection(http_parser=http_parser)
        events = read_all(conn, pieces)
        assert isinstance(events[-1], StreamEnded)
        assert text_of(events) == "AI language model."
        assert conn.reusable is not bool(after), pieces[-3:]
        if after:
            with pytest.raises(LocalProtocolError, match="no request asked for"):
                conn.send_request(STREAM)


@pytest.mark.parametrize("after", [b"", b"\r\n", b"x"])
def test_bytes_after_a_response_with_no_body(http_parser: HttpParserName, after: bytes) -> None:
    for pieces in feeding_ways(b"HTTP/1.1 204 No Content\r\n\r\n" + after):
        conn = new_connection(http_parser=http_parser)
        assert kinds(read_all(conn, pieces)) == ["ResponseStarted", "StreamEnded"]
        assert conn.reusable is not bool(after)


def test_bytes_after_a_response_that_closes(http_parser: HttpParserName) -> None:
    # llhttp refuses bytes after "Connection: close": they are not the reply's.
    reply = http_reply(SEED, headers=[(b"Connection", b"close")], framing="chunked") + b"junk"
    events, conn = run(reply, http_parser=http_parser)
    assert text_of(events) == "AI language model."
    assert isinstance(events[-1], StreamEnded)
    assert not conn.reusable


@pytest.mark.parametrize(
    ("version", "connection", "reusable"),
    [
        (b"1.1", None, True),
        (b"1.1", b"keep-alive", True),
        (b"1.1", b"close", False),
        (b"1.1", b"Keep-Alive, CLOSE", False),
        (b"1.1", b"closed", True),  # not the close option
        (b"1.0", None, False),
        (b"1.0", b"keep-alive", False),  # h11 closes every HTTP/1.0 connection
        (b"2.0", None, True),
    ],
)
def test_reusable_after_version_and_connection_fields(
    http_parser: HttpParserName, version: bytes, connection: bytes | None, reusable: bool
) -> None:
    headers = [] if connection is None else [(b"Connection", connection)]
    events, conn = run(http_reply(SEED, version=version, headers=headers), http_parser=http_parser)
    assert isinstance(events[-1], StreamEnded)
    assert conn.reusable is reusable


def test_not_reusable_after_the_server_closed_or_sent_stray_bytes(
    http_parser: HttpParserName,
) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    drive(client, [http_reply(SEED)], eof=False)
    client.receive_data(b"HTTP/1.1 200 OK\r\n")
    assert not client.reusable
    with pytest.raises(LocalProtocolError, match="no request asked for"):
        client.send_request(STREAM)
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    drive(client, [http_reply(SEED)], eof=False)
    client.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="the server closed it"):
        client.send_request(STREAM)
    idle = connect(http_parser=http_parser)
    idle.receive_data(b"")
    assert not idle.reusable
