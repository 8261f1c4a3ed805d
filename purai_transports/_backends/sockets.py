"""Blocking byte streams on the standard library's ``socket`` and ``ssl``.

The only place where the blocking transport touches the network, and so the one place
where ``OSError``, ``socket.timeout`` and ``ssl.SSLError`` become the library's own
exceptions.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from typing import Any

from .._core.errors import (
    ConnectError,
    NetworkError,
    TimeoutException,
)
from .._core.operations import Connect
from .failures import tls_failure

__all__ = [
    "READ_SIZE",
    "SocketBackend",
    "SocketPoller",
    "SocketStream",
    "TLSContextOnDemand",
    "default_ssl_context",
]

#: Bytes asked of the kernel per read: one read usually drains what has arrived.
READ_SIZE = 65536


def default_ssl_context(verify: bool | ssl.SSLContext = True) -> ssl.SSLContext:
    """The TLS settings for ``verify``: the system's trust store with hostname checks
    (``True``), no verification at all (``False``), or the context given."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


class TLSContextOnDemand:
    """A backend's TLS context: made on its first ``https://`` connection, then shared
    by all of them.

    Loading the system's trust store takes tens of milliseconds, more than a whole
    request on a warm connection: a client for an ``http://`` URL never pays it, and
    a client for an ``https://`` one pays it once.
    """

    __slots__ = ("_context", "_verify")

    def __init__(self, verify: bool | ssl.SSLContext) -> None:
        self._verify = verify
        self._context: ssl.SSLContext | None = None

    def get(self) -> ssl.SSLContext:
        """The context for ``verify`` (see :func:`default_ssl_context`)."""
        if self._context is None:
            self._context = default_ssl_context(self._verify)
        return self._context


class SocketPoller:
    """Asks the kernel, without waiting, whether a socket holds bytes, EOF or an error.

    Asked of an idle connection before it is reused, as urllib3's
    ``wait_for_read(sock, 0)`` and httpcore's ``is_readable`` do. Made once per
    connection: the poll object is registered once, and each question is one
    ``poll(0)`` call (``select()`` would fail on descriptors past ``FD_SETSIZE``).

    Args:
        sock: Anything with a ``fileno()``: a stdlib or a trio socket.
    """

    __slots__ = ("_poll", "_sock")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._poll: Any = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)  # POLLHUP and POLLERR always count

    def readable(self) -> bool:
        """True if a read would not wait; a socket that is gone counts too (its
        descriptor is then reported invalid): it cannot be reused either."""
        if self._poll is None:  # pragma: no cover - Windows
            return self._sock.fileno() < 0 or bool(select.select([self._sock], [], [], 0)[0])
        return bool(self._poll.poll(0))


class SocketStream:
    """A connected socket (TLS or not) that reads and writes with timeouts."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._poller = SocketPoller(sock)

    def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        """Some bytes, or ``b""`` once the server closed its side.

        Raises:
            TimeoutException: ``on_timeout``, when nothing arrived within ``timeout``.
            NetworkError: The connection broke.
        """
        sock = self._sock
        if timeout is not None and timeout <= 0:
            # A deadline that has passed already (the caller held a chunk past it).
            # settimeout(0) would not mean "no time" but non-blocking mode, in which
            # recv() raises BlockingIOError or SSLWantReadError, taken for a broken
            # connection. The async backends raise the limit's error here too.
            raise on_timeout("no time was left to wait for data")
        try:
            sock.settimeout(timeout)
            return sock.recv(READ_SIZE)
        except TimeoutError:
            raise on_timeout(f"no data for {timeout:.3g} s") from None
        except ssl.SSLEOFError:
            # A TLS peer that closes without close_notify (most HTTP servers do): EOF.
            # The HTTP framing still tells a complete reply from a truncated one.
            return b""
        except (OSError, ValueError) as exc:  # ValueError: the socket was closed
            raise NetworkError(f"reading from the server failed: {exc}") from None

    def write(self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]) -> None:
        """Send all of ``data``.

        Raises:
            TimeoutException: ``on_timeout``, when sending took longer than ``timeout``.
            NetworkError: The connection broke.
        """
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(data)
        except TimeoutError:
            raise on_timeout(f"sending took over {timeout:.3g} s") from None
        except (OSError, ValueError) as exc:
            raise NetworkError(f"sending to the server failed: {exc}") from None

    def is_readable(self) -> bool:
        """Whether anything waits to be read (see :class:`SocketPoller`).

        ``ssl`` reads one TLS record at a time from the kernel, so what TLS holds is
        only the rest of a record already read: :meth:`ssl.SSLSocket.pending`.
        """
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        return self._poller.readable()

    def close(self) -> None:
        """Close the connection; never fails."""
        with contextlib.suppress(OSError):
            self._sock.close()


class SocketBackend:
    """Opens :class:`SocketStream` connections; sleeps with ``time.sleep``."""

    def __init__(self, verify: bool | ssl.SSLContext = True) -> None:
        self._tls = TLSContextOnDemand(verify)

    def connect(self, op: Connect) -> SocketStream:
        """Connect to ``op.origin`` (IPv4 or IPv6, TLS for https) within ``op.timeout``.

        Raises:
            TimeoutException: ``op.on_timeout``, when not connected (handshake
                included) within ``op.timeout``.
            TLSError: The TLS handshake failed: the certificate did not verify, or
                the server does not speak TLS on that port.
            ConnectError: Refused, unreachable, an unknown host, or the TLS
                handshake broke off.
        """
        origin = op.origin
        where = f"{origin.host}:{origin.port}"
        started = time.monotonic()
        try:
            sock = socket.create_connection((origin.host, origin.port), timeout=op.timeout)
        except TimeoutError:
            raise op.on_timeout(f"connecting to {where} took over {op.timeout:.3g} s") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        try:
            # Small writes (a request) must not wait for an ACK (Nagle's algorithm).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.tls:
                if op.timeout is not None:
                    sock.settimeout(max(op.timeout - (time.monotonic() - started), 0.001))
                sock = self._tls.get().wrap_socket(sock, server_hostname=origin.host)
        except TimeoutError:
            sock.close()
            raise op.on_timeout(f"the TLS handshake with {where} timed out") from None
        except ssl.SSLError as exc:
            sock.close()
            raise tls_failure(exc, where) from None
        except OSError as exc:
            sock.close()
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        return SocketStream(sock)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries)."""
        time.sleep(seconds)
