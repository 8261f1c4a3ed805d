"""Blocking byte streams on the standard library's ``socket`` and ``ssl``.

The only place where the blocking transport touches the network, and so the one place
where ``OSError``, ``socket.timeout`` and ``ssl.SSLError`` become the library's own
exceptions.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core.errors import (
    ConnectError,
    NetworkError,
    TimeoutException,
)
from .._core.operations import Connect, Resolve, StartTLS
from .._core.settings import VerifyArg
from .failures import tls_failure

if TYPE_CHECKING:
    from .tls_in_tls import TLSInTLSStream

__all__ = [
    "READ_SIZE",
    "SocketBackend",
    "SocketPoller",
    "SocketStream",
    "TLSContextOnDemand",
    "default_ssl_context",
    "lookup_failed",
    "resolved",
    "trust_store",
]

#: Bytes asked of the kernel per read: one read usually drains what has arrived.
READ_SIZE = 65536


def lookup_failed(op: Resolve, exc: OSError) -> ConnectError:
    """The error for a ``getaddrinfo`` of ``op.host`` that raised ``exc``."""
    return ConnectError(f"cannot look {op.host} up: {exc.strerror or exc}")


def resolved(op: Resolve, lookup: Callable[[], list[Any]]) -> str:
    """The first address ``lookup()`` (a ``getaddrinfo``) gives for ``op.host``.

    Raises:
        ConnectError: The lookup failed or gave nothing.
    """
    try:
        found = lookup()
    except OSError as exc:
        raise lookup_failed(op, exc) from None
    if not found:
        raise ConnectError(f"cannot look {op.host} up: no address")
    return str(found[0][4][0])


def default_ssl_context(verify: VerifyArg = True, trust_env: bool = True) -> ssl.SSLContext:
    """The TLS settings for ``verify``, with hostname checks: the system's trust store
    (``True``; with ``trust_env``, the ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``
    variables name it, see :func:`trust_store`), the CA bundle at a path (a file, or
    a directory of hashed certificates), no verification at all (``False``), or the
    context given."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        cafile, capath = trust_store(trust_env)
    elif verify is False:
        cafile = capath = None
    else:
        path = os.fspath(verify)
        cafile, capath = (None, path) if os.path.isdir(path) else (path, None)
    context = ssl.create_default_context(cafile=cafile, capath=capath)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def trust_store(trust_env: bool) -> tuple[str | None, str | None]:
    """The CA file and directory that ``verify=True`` trusts; ``(None, None)`` for the
    system's default store.

    OpenSSL itself reads ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` when it loads the
    default store, so they are honoured with ``trust_env``, and with ``trust_env``
    false the locations built into OpenSSL are named instead, so that they are not.
    """
    environ = os.environ
    if trust_env:
        cafile = environ.get("SSL_CERT_FILE") or None
        capath = environ.get("SSL_CERT_DIR") or None
        return cafile, capath
    if not (environ.get("SSL_CERT_FILE") or environ.get("SSL_CERT_DIR")):
        return None, None
    paths = ssl.get_default_verify_paths()
    cafile = paths.openssl_cafile if os.path.isfile(paths.openssl_cafile) else None
    capath = paths.openssl_capath if os.path.isdir(paths.openssl_capath) else None
    return cafile, capath


class TLSContextOnDemand:
    """A backend's TLS context: made on its first ``https://`` connection, then shared
    by all of them.

    Loading the system's trust store takes tens of milliseconds, more than a whole
    request on a warm connection: a client for an ``http://`` URL never pays it, and
    a client for an ``https://`` one pays it once.
    """

    __slots__ = ("_context", "_trust_env", "_verify")

    def __init__(self, verify: VerifyArg, trust_env: bool = True) -> None:
        self._verify = verify
        self._trust_env = trust_env
        self._context: ssl.SSLContext | None = None

    def get(self) -> ssl.SSLContext:
        """The context for ``verify`` (see :func:`default_ssl_context`)."""
        if self._context is None:
            self._context = default_ssl_context(self._verify, self._trust_env)
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

    @property
    def socket(self) -> socket.socket:
        """The socket: an ``ssl.SSLSocket`` for TLS."""
        return self._sock

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

    def __init__(self, verify: VerifyArg = True, trust_env: bool = True) -> None:
        self._tls = TLSContextOnDemand(verify, trust_env)

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
        except OSError as exc:
            sock.close()
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        if origin.tls:
            left = None if op.timeout is None else op.timeout - (time.monotonic() - started)
            sock = self._wrap(sock, origin.host, where, left, op.on_timeout)
        return SocketStream(sock)

    def start_tls(self, op: StartTLS) -> SocketStream | TLSInTLSStream:
        """TLS with ``op.server_hostname`` inside a tunnel: on the socket itself, or
        inside the proxy's own TLS (:class:`~.tls_in_tls.TLSInTLSStream`).

        Raises:
            As :meth:`connect` does for its handshake.
        """
        stream = op.stream
        assert isinstance(stream, SocketStream)
        hostname = op.server_hostname
        if isinstance(stream.socket, ssl.SSLSocket):
            from .tls_in_tls import TLSInTLSStream  # here: it imports this module

            return TLSInTLSStream.handshake(
                stream, self._tls.get(), hostname, op.timeout, op.on_timeout
            )
        return SocketStream(
            self._wrap(stream.socket, hostname, hostname, op.timeout, op.on_timeout)
        )

    def _wrap(
        self,
        sock: socket.socket,
        hostname: str,
        where: str,
        timeout: float | None,
        on_timeout: type[TimeoutException],
    ) -> ssl.SSLSocket:
        """``sock`` with TLS to ``hostname``, handshake done; closed if that fails."""
        try:
            sock.settimeout(None if timeout is None else max(timeout, 0.001))
            return self._tls.get().wrap_socket(sock, server_hostname=hostname)
        except TimeoutError:
            sock.close()
            raise on_timeout(f"the TLS handshake with {where} timed out") from None
        except ssl.SSLError as exc:
            sock.close()
            raise tls_failure(exc, where) from None
        except OSError as exc:
            sock.close()
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from None

    def resolve(self, op: Resolve) -> str:
        """One address of ``op.host`` (no time limit: ``getaddrinfo`` takes none).

        Raises:
            ConnectError: The name is unknown.
        """
        return resolved(op, lambda: socket.getaddrinfo(op.host, op.port, type=socket.SOCK_STREAM))

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries)."""
        time.sleep(seconds)
