"""The tunnel handshakes, sans I/O: :class:`purai_proto.HttpTunnel` (``CONNECT``) and
:class:`purai_proto.Socks5Tunnel`, each reply fed whole, one byte at a time, and with
the origin's first bytes after it."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest

from purai_proto import (
    NEED_DATA,
    HttpTunnel,
    LocalProtocolError,
    RemoteProtocolError,
    Socks5Tunnel,
    TunnelEvent,
    TunnelOpened,
    TunnelRefused,
    proxy_authorization,
)

Tunnel = HttpTunnel | Socks5Tunnel
Split = Callable[[bytes], Iterator[bytes]]


def _whole(data: bytes) -> Iterator[bytes]:
    yield data


def _bytewise(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


SPLITS = pytest.mark.parametrize("split", [_whole, _bytewise], ids=["whole", "bytewise"])


def _drive(tunnel: Tunnel, replies: list[bytes], split: Split) -> tuple[list[bytes], TunnelEvent]:
    """Run the handshake as a transport does: what the client sent, and the end."""
    sent: list[bytes] = []
    pending = list(replies)
    while True:
        event = tunnel.next_event()
        data = tunnel.data_to_send()
        if data:
            sent.append(data)
        if event is not NEED_DATA:
            return sent, event
        assert pending, f"the tunnel wants more after {sent!r}"
        reply = pending.pop(0)
        for piece in split(reply):
            tunnel.receive_data(piece)
            event = tunnel.next_event()
            if event is not NEED_DATA:
                break
        # What the reply made is sent by the loop's next turn.


# --- HTTP CONNECT -----------------------------------------------------------------------


def test_connect_asks_for_the_origin_in_authority_form() -> None:
    tunnel = HttpTunnel("api.example.com", 443, authorization=proxy_authorization("u", "p:w"))
    assert tunnel.data_to_send() == (
        b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
        b"Proxy-Authorization: Basic " + base64.b64encode(b"u:p:w") + b"\r\n\r\n"
    )
    assert tunnel.data_to_send() == b""  # once


def test_connect_to_an_ipv6_origin_brackets_it() -> None:
    assert HttpTunnel("::1", 8443).data_to_send().startswith(b"CONNECT [::1]:8443 HTTP/1.1\r\n")


@SPLITS
@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nProxy-Agent: test\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    ],
)
def test_a_2xx_opens_the_tunnel(reply: bytes, split: Split) -> None:
    _, event = _drive(HttpTunnel("origin.test", 443), [reply], split)
    assert event == TunnelOpened(data=b"")


def test_bytes_after_the_reply_are_the_origins() -> None:
    tunnel = HttpTunnel("origin.test", 443)
    tunnel.receive_data(b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03")
    assert tunnel.next_event() == TunnelOpened(data=b"\x16\x03\x03")


@SPLITS
@pytest.mark.parametrize(
    ("reply", "status", "reason"),
    [
        (b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\nlogin", 407,
         "Proxy Authentication Required"),
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", 403, "Forbidden"),
        (b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n", 401, "Unauthorized"),
        (b"HTTP/1.1 502 \r\n\r\n", 502, ""),
    ],
)  # fmt: skip
def test_any_other_status_refuses_it(reply: bytes, status: int, reason: str, split: Split) -> None:
    _, event = _drive(HttpTunnel("origin.test", 443), [reply], split)
    assert event == TunnelRefused(status=status, reason=reason)


@pytest.mark.parametrize(
    "reply",
    [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 abc Nope\r\n\r\n", b"HTTP/1.1 200 OK\r\nbad\r\n\r\n"],
)
def test_a_reply_that_is_not_http_raises(reply: bytes) -> None:
    tunnel = HttpTunnel("origin.test", 443)
    tunnel.receive_data(reply)
    with pytest.raises(RemoteProtocolError, match="reply to CONNECT is invalid"):
        tunnel.next_event()


@pytest.mark.parametrize("before", [b"", b"HTTP/1.1 200 Conn"])
def test_a_close_before_the_reply_raises(before: bytes) -> None:
    tunnel = HttpTunnel("origin.test", 443)
    if before:
        tunnel.receive_data(before)
    assert tunnel.next_event() is NEED_DATA
    tunnel.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="closed the connection before answering"):
        tunnel.next_event()


def test_a_reply_head_too_long_raises() -> None:
    tunnel = HttpTunnel("origin.test", 443)
    tunnel.receive_data(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 70_000)
    with pytest.raises(RemoteProtocolError):
        tunnel.next_event()


def test_control_characters_are_refused_without_showing_the_value() -> None:
    with pytest.raises(LocalProtocolError):
        HttpTunnel("origin.test\r\nX: y", 443)
    with pytest.raises(LocalProtocolError) as raised:
        HttpTunnel("origin.test", 443, authorization=b"Basic hunter2\r\nX: y")
    assert "hunter2" not in str(raised.value)


def test_basic_credentials_are_utf8_and_refuse_a_colon_in_the_user() -> None:
    assert proxy_authorization("jörg", "pw") == b"Basic " + base64.b64encode("jörg:pw".encode())
    with pytest.raises(LocalProtocolError):
        proxy_authorization("a:b", "hunter2")


# --- SOCKS5 -----------------------------------------------------------------------------

_OPENED = bytes([5, 0, 0, 1, 127, 0, 0, 1, 0x1F, 0x90])  # bound to 127.0.0.1:8080


@SPLITS
def test_socks5_without_login(split: Split) -> None:
    sent, event = _drive(Socks5Tunnel("origin.test", 443), [b"\x05\x00", _OPENED], split)
    assert sent == [b"\x05\x01\x00", b"\x05\x01\x00\x03\x0borigin.test\x01\xbb"]
    assert event == TunnelOpened(data=b"")


@SPLITS
def test_socks5_with_login(split: Split) -> None:
    tunnel = Socks5Tunnel("10.1.2.3", 80, username="user", password="pw")
    sent, event = _drive(tunnel, [b"\x05\x02", b"\x01\x00", _OPENED], split)
    assert sent == [
        b"\x05\x02\x00\x02",  # no login, or user name and password
        b"\x01\x04user\x02pw",
        b"\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x50",  # an IPv4 address, as given
    ]
    assert event == TunnelOpened(data=b"")


def test_a_proxy_may_skip_the_login_offered() -> None:
    tunnel = Socks5Tunnel("origin.test", 443, username="user", password="pw")
    sent, event = _drive(tunnel, [b"\x05\x00", _OPENED], _whole)
    assert len(sent) == 2
    assert event == TunnelOpened(data=b"")


@SPLITS
@pytest.mark.parametrize(
    "reply",
    [
        bytes([5, 0, 0, 4]) + bytes(16) + b"\x00\x50",  # bound to an IPv6 address
        bytes([5, 0, 0, 3, 5]) + b"proxy" + b"\x00\x50",  # to a name
    ],
)
def test_every_address_type_in_the_reply(reply: bytes, split: Split) -> None:
    _, event = _drive(Socks5Tunnel("::1", 443), [b"\x05\x00", reply], split)
    assert event == TunnelOpened(data=b"")


def test_bytes_after_the_socks_reply_are_the_origins() -> None:
    tunnel = Socks5Tunnel("origin.test", 443)
    _, event = _drive(tunnel, [b"\x05\x00", _OPENED + b"HTTP/1.1"], _whole)
    assert event == TunnelOpened(data=b"HTTP/1.1")


@pytest.mark.parametrize(
    ("replies", "status", "reason"),
    [
        ([b"\x05\x00", bytes([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])], 5, "connection refused"),
        ([b"\x05\x00", bytes([5, 1, 0, 1, 0, 0, 0, 0, 0, 0])], 1, "general SOCKS server failure"),
        ([b"\x05\x02", b"\x01\x01"], 0, "the proxy refused the user name or password"),
        ([b"\x05\xff"], 0, "the proxy accepts no login offered"),
    ],
)
def test_socks5_refusals(replies: list[bytes], status: int, reason: str) -> None:
    tunnel = Socks5Tunnel("origin.test", 443, username="user", password="hunter2")
    _, event = _drive(tunnel, replies, _whole)
    assert event == TunnelRefused(status=status, reason=reason)


def test_a_login_asked_for_and_not_given_is_a_refusal() -> None:
    _, event = _drive(Socks5Tunnel("origin.test", 443), [b"\x05\x02"], _whole)
    assert event == TunnelRefused(status=0, reason="the proxy asks for credentials")


@pytest.mark.parametrize(
    "replies",
    [
        [b"\x04\x00"],  # SOCKS4's version
        [b"\x05\x00", bytes([4, 0, 0, 1, 0, 0, 0, 0, 0, 0])],
        [b"\x05\x00", bytes([5, 0, 0, 9, 0, 0, 0, 0, 0, 0])],  # no such address type
        [b"\x05\x00", bytes([5, 99, 0, 1, 0, 0, 0, 0, 0, 0])],  # no such reply code
    ],
)
def test_a_malformed_socks_reply_raises(replies: list[bytes]) -> None:
    with pytest.raises(RemoteProtocolError, match="SOCKS5 proxy's reply"):
        _drive(Socks5Tunnel("origin.test", 443), replies, _whole)


def test_a_socks_proxy_that_closes_raises() -> None:
    tunnel = Socks5Tunnel("origin.test", 443)
    assert tunnel.next_event() is NEED_DATA
    tunnel.data_to_send()
    tunnel.receive_data(b"\x05")
    tunnel.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="closed the connection during the greeting"):
        tunnel.next_event()


def test_socks5_limits_are_refused_without_showing_credentials() -> None:
    with pytest.raises(LocalProtocolError) as raised:
        Socks5Tunnel("origin.test", 443, username="user", password="hunter2" * 40)
    assert "hunter2" not in str(raised.value)
    with pytest.raises(LocalProtocolError):
        Socks5Tunnel("origin.test", 443, username="", password="pw")
    with pytest.raises(LocalProtocolError):
        Socks5Tunnel("a" * 256, 443)
