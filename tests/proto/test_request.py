"""The request ClientConnection writes: its head and body, every value checked before
anything is sent."""

from __future__ import annotations

from typing import Any

import h11
import msgspec
import pytest

import purai_proto
from purai_proto import (
    ChatRequest,
    ClientConnection,
    HttpParserName,
    LocalProtocolError,
)
from tests.helpers.connection import (
    HOST,
    NOT_STREAMED,
    STREAM,
    connect,
    drive,
    text_of,
)
from tests.helpers.replies import (
    SEED,
    http_reply,
)

# --- the request --------------------------------------------------------------------


def parse_request(data: bytes) -> tuple[h11.Request, bytes]:
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    body = b""
    while True:
        event = server.next_event()
        if isinstance(event, h11.EndOfMessage):
            return request, body
        assert isinstance(event, h11.Data)
        body += event.data


def test_request_head_and_body(http_parser: HttpParserName) -> None:
    conn = connect(http_parser=http_parser)
    request, body = parse_request(conn.send_request(STREAM, api_key="purgpt-abc"))
    assert request.method == b"POST"
    assert request.target == b"/openai/chat/completions"
    headers = dict(request.headers)
    assert headers[b"host"] == HOST.encode()
    assert headers[b"authorization"] == b"Bearer purgpt-abc"
    assert headers[b"content-type"] == b"application/json"
    assert b"text/event-stream" in headers[b"accept"]
    assert headers[b"accept-encoding"] == b"gzip, deflate"
    assert headers[b"user-agent"] == f"purai/{purai_proto.__version__}".encode()
    assert headers[b"content-length"] == str(len(body)).encode()
    # Unset fields are left out, not sent as null.
    assert msgspec.json.decode(body) == {
        "messages": [{"role": "user", "content": "Hi"}],
        "model": "gpt-3.5-turbo",
        "stream": True,
    }


@pytest.mark.parametrize(
    "path",
    ["/openai/chat/completions", "/third-party/chat/completions", "/v1/chat/completions"],
)
def test_request_paths(http_parser: HttpParserName, path: str) -> None:
    conn = connect(http_parser=http_parser)
    request, _ = parse_request(conn.send_request(NOT_STREAMED, path=path))
    assert request.target == path.encode()
    assert dict(request.headers)[b"accept"] == b"application/json"
    assert b"authorization" not in dict(request.headers)


def test_extra_headers_add_and_replace(http_parser: HttpParserName) -> None:
    conn = connect(http_parser=http_parser)
    data = conn.send_request(
        STREAM,
        headers=[("User-Agent", "mine/1"), ("X-Trace", b"abc"), ("X-Trace", "d\te ")],
    )
    request, _ = parse_request(data)
    assert dict(request.headers)[b"user-agent"] == b"mine/1"
    assert [v for k, v in request.headers if k == b"x-trace"] == [b"abc", b"d\te"]
    assert data.count(b"User-Agent") == 1
    conn = connect(http_parser=http_parser)
    request, _ = parse_request(conn.send_request(STREAM, headers={"accept": "text/plain"}))
    assert [v for k, v in request.headers if k == b"accept"] == [b"text/plain"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"api_key": "key\r\nX-Evil: 1"}, "API key contains CR, LF or another control"),
        ({"api_key": "key\n"}, "API key contains CR, LF or another control"),
        ({"headers": {"X-A": "a\rb"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": b"a\nb"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": "a\x00b"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A\r\nX-B": "b"}}, "invalid header name"),
        ({"headers": {"Bad Name": "b"}}, "invalid header name"),
        ({"headers": {"X-A": "café"}}, "not ASCII"),
        ({"headers": {"X-A": "a\x01b"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": "a\x7f"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": 5}}, "must be str or bytes"),
        ({"headers": ["X-A"]}, "mapping or"),
        ({"headers": {"Content-Length": "5"}}, "Content-Length is set by the connection"),
        ({"headers": {"transfer-encoding": "chunked"}}, "set by the connection"),
        ({"path": "/a b"}, "the path must start with '/'"),
        ({"path": "/a\r\nX: y"}, "the path must start with '/'"),
        ({"path": "v1/chat"}, "the path must start with '/'"),
    ],
)
def test_bad_header_values_are_refused_before_sending(
    http_parser: HttpParserName, kwargs: dict[str, Any], match: str
) -> None:
    conn = connect(http_parser=http_parser)
    with pytest.raises(LocalProtocolError, match=match):
        conn.send_request(STREAM, **kwargs)
    # Nothing was sent: the connection is as good as new.
    assert conn.reusable
    conn.send_request(STREAM)
    assert text_of(drive(conn, [http_reply(SEED)], eof=False)) == "AI language model."


def test_the_api_key_is_not_quoted_in_the_error(http_parser: HttpParserName) -> None:
    with pytest.raises(LocalProtocolError) as info:
        connect(http_parser=http_parser).send_request(STREAM, api_key="secret-key\r\n")
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("host", ["", "a\r\nb", "a\nb"])
def test_bad_host(http_parser: HttpParserName, host: str) -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection(host, http_parser=http_parser)


def test_unencodable_request(http_parser: HttpParserName) -> None:
    conn = connect(http_parser=http_parser)
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        conn.send_request(ChatRequest(logit_bias={"a": object()}))  # type: ignore[dict-item]


def test_limits_must_be_positive(http_parser: HttpParserName) -> None:
    with pytest.raises(LocalProtocolError, match="positive"):
        connect(max_decompressed_size=0, http_parser=http_parser)
