"""``CONNECT`` through an HTTP proxy, sans I/O, on h11.

Theory of operation
-------------------
A client that reaches an ``https://`` origin through an HTTP proxy asks the proxy for a
tunnel: ``CONNECT host:port`` with the target in authority form (RFC 9112, section
3.2.3) and the same ``Host``. Any 2xx reply opens it (RFC 9110, section 9.3.6), and
every byte after that reply's head belongs to the origin: the client's TLS handshake
with the origin starts there. Any other final status refuses it; ``407`` asks for
credentials (``Proxy-Authorization``, RFC 9110, section 11.7.2), and some proxies
answer ``401`` or ``403`` to wrong ones. 1xx replies are skipped.

h11 knows ``CONNECT``: after a 2xx reply it stops parsing and hands back the bytes it
holds, which become :attr:`TunnelOpened.data`. A refusal is not read further: its
connection is closed, not reused for another ``CONNECT``.

No credential is ever put in an error message: the ``Proxy-Authorization`` value is
checked for control characters without being quoted.
"""

from __future__ import annotations

import base64

import h11

from .._errors import LocalProtocolError, RemoteProtocolError
from .._events import NEED_DATA, NeedData
from .._http import check_host
from .events import TunnelEvent, TunnelOpened, TunnelRefused

__all__ = ["HttpTunnel", "proxy_authorization"]

#: The longest reply head to ``CONNECT`` accepted, in bytes.
MAX_REPLY_HEAD_SIZE = 64 * 1024


def proxy_authorization(username: str, password: str) -> bytes:
    """The ``Proxy-Authorization`` value for Basic authentication (RFC 7617), UTF-8.

    Raises:
        LocalProtocolError: A user name holding a colon, which Basic cannot carry.
    """
    if ":" in username:
        raise LocalProtocolError("a proxy user name cannot contain ':' (RFC 7617, section 2)")
    credentials = f"{username}:{password}".encode()
    return b"Basic " + base64.b64encode(credentials)


def _authority(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address, in brackets
    return f"{shown}:{port}"


class HttpTunnel:
    """One ``CONNECT`` to an HTTP proxy, and the reading of its reply.

    Args:
        host: The origin's host name or address (an IPv6 address without brackets).
        port: The origin's port.
        authorization: The ``Proxy-Authorization`` value, if any (see
            :func:`proxy_authorization`).

    Raises:
        LocalProtocolError: A host or an authorization value with CR, LF or another
            control character in it.
    """

    def __init__(self, host: str, port: int, *, authorization: bytes | None = None) -> None:
        target = check_host(_authority(host, port))
        headers = [(b"Host", target)]
        if authorization is not None:
            if any(byte < 0x20 or byte == 0x7F for byte in authorization):
                raise LocalProtocolError(
                    "the Proxy-Authorization value contains a control character"
                )
            headers.append((b"Proxy-Authorization", authorization))
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_REPLY_HEAD_SIZE)
        request = h11.Request(method=b"CONNECT", target=target, headers=headers)
        self._to_send = self._h11.send(request) + (self._h11.send(h11.EndOfMessage()) or b"")
        self._end: TunnelEvent | None = None
        self._closed = False  # receive_data(b"") was called

    def data_to_send(self) -> bytes:
        """The bytes to send now: the request the first time, then nothing."""
        data, self._to_send = self._to_send, b""
        return data

    def receive_data(self, data: bytes) -> None:
        """Pass bytes read from the proxy; ``b""`` means it closed the connection."""
        if self._end is None:
            self._closed = not data
            self._h11.receive_data(data)

    def next_event(self) -> TunnelEvent | NeedData:
        """:class:`TunnelOpened`, :class:`TunnelRefused`, or
        :data:`~purai_proto.NEED_DATA` until the reply's head is whole.

        Raises:
            RemoteProtocolError: The reply is not HTTP, or too long, or the proxy
                closed the connection before its head was whole.
        """
        while self._end is None:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._closed:
                    raise RemoteProtocolError(
                        "the proxy closed the connection before answering CONNECT"
                    ) from None
                raise RemoteProtocolError(
                    f"the proxy's reply to CONNECT is invalid: {exc}"
                ) from None
            if event is h11.NEED_DATA:
                return NEED_DATA
            if isinstance(event, h11.Response):
                self._end = self._ended(event)
            # An InformationalResponse (1xx) is not the answer: read on.
        return self._end

    def _ended(self, reply: h11.Response) -> TunnelEvent:
        if 200 <= reply.status_code < 300:
            data, _closed = self._h11.trailing_data
            return TunnelOpened(data=bytes(data))
        reason = reply.reason.decode("ascii", "replace")
        return TunnelRefused(status=reply.status_code, reason=reason)
