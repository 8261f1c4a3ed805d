"""A tunnel through a proxy to the origin, as the operations that open it.

Theory of operation
-------------------
An exchange connects to the proxy instead of the origin (with TLS for an ``https://``
proxy), then, unless it sends its requests to an HTTP proxy in absolute form (an
``http://`` origin), runs :func:`open_tunnel` on that connection: the handshake of
:class:`purai_proto.HttpTunnel` (``CONNECT``) or :class:`purai_proto.Socks5Tunnel`,
whose bytes it writes and reads with the same :class:`~.operations.Write` and
:class:`~.operations.Read` as a request, then TLS with the origin inside the tunnel
(:class:`~.operations.StartTLS`) for an ``https://`` origin, its certificate checked
against the origin's name. A ``socks5://`` proxy is given an address: the name is
looked up first (:class:`~.operations.Resolve`); a ``socks5h://`` one is given the name.

All of it is part of connecting: each step waits at most what is left of the connect
limit (or of the total, when that is nearer), and the limit's error is raised when
it runs out. A refusal, a handshake broken off and a reply that is not the protocol
raise :class:`~.errors.ProxyError`, naming the proxy without its credentials.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Generator
from typing import Any

from purai_proto import (
    NEED_DATA,
    HttpTunnel,
    RemoteProtocolError,
    Socks5Tunnel,
    TunnelEvent,
    TunnelRefused,
)

from .errors import NetworkError, ProxyError, TimeoutException
from .operations import Read, Resolve, StartTLS, Write
from .proxies import Route

__all__ = ["open_tunnel"]


class _Deadline:
    """What is left of one limit, for each step of a handshake."""

    def __init__(
        self, timeout: float | None, on_timeout: type[TimeoutException], clock: Callable[[], float]
    ) -> None:
        self._clock = clock
        self._end = None if timeout is None else clock() + timeout
        self.on_timeout = on_timeout

    def left(self) -> float | None:
        """Seconds left, or None for no limit.

        Raises:
            TimeoutException: ``on_timeout``: none is left.
        """
        if self._end is None:
            return None
        left = self._end - self._clock()
        if left <= 0:
            raise self.on_timeout("the proxy's handshake took longer than the limit")
        return left


def open_tunnel(
    stream: Any,
    route: Route,
    timeout: float | None,
    on_timeout: type[TimeoutException],
    clock: Callable[[], float],
) -> Generator[Any, Any, Any]:
    """Open the way to ``route.origin`` on ``stream``, a connection to ``route.proxy``;
    the stream to use from then on (TLS with the origin, for ``https://``).

    Raises:
        ProxyError: The proxy refused, broke the handshake off, or broke its protocol.
        TimeoutException: ``on_timeout``, when ``timeout`` ran out.
        TLSError: The origin's certificate did not verify.
        ConnectError: TLS with the origin failed, or its name could not be looked up.
    """
    proxy, origin = route.proxy, route.origin
    assert proxy is not None
    deadline = _Deadline(timeout, on_timeout, clock)
    where = (
        f"[{origin.host}]:{origin.port}" if ":" in origin.host else f"{origin.host}:{origin.port}"
    )
    tunnel: HttpTunnel | Socks5Tunnel
    if proxy.is_socks:
        host = origin.host
        if proxy.scheme == "socks5" and not _is_address(host):
            host = yield Resolve(host, origin.port, deadline.left(), on_timeout)
        tunnel = Socks5Tunnel(host, origin.port, username=proxy.username, password=proxy.password)
    else:
        tunnel = HttpTunnel(origin.host, origin.port, authorization=proxy.authorization())
    try:
        event = yield from _handshake(stream, tunnel, deadline)
    except (NetworkError, RemoteProtocolError) as exc:
        raise ProxyError(f"the proxy {proxy} broke off the tunnel to {where}: {exc}") from None
    if isinstance(event, TunnelRefused):
        if proxy.is_socks:
            said = f"{event.reason} (SOCKS5 reply {event.status})"
        else:
            said = f"{event.status} {event.reason}".rstrip()
        raise ProxyError(
            f"the proxy {proxy} refused the tunnel to {where}: {said}", status=event.status
        )
    if event.data:
        # The origin cannot have spoken yet: the client speaks first in HTTP and TLS.
        raise ProxyError(f"the proxy {proxy} sent bytes past its reply, before the server could")
    if origin.tls:
        stream = yield StartTLS(stream, origin.host, deadline.left(), on_timeout)
    return stream


def _handshake(
    stream: Any, tunnel: HttpTunnel | Socks5Tunnel, deadline: _Deadline
) -> Generator[Any, Any, TunnelEvent]:
    """Write what the tunnel says and read its replies, to its end."""
    while True:
        event = tunnel.next_event()  # first: a reply read may have made the next message
        data = tunnel.data_to_send()
        if data:
            yield Write(stream, data, deadline.left(), deadline.on_timeout)
        if event is not NEED_DATA:
            return event
        tunnel.receive_data((yield Read(stream, deadline.left(), deadline.on_timeout)))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
