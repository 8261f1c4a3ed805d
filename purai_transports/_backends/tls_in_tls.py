"""TLS inside TLS for the blocking transport: an ``https://`` origin through an
``https://`` proxy.

``ssl.SSLSocket`` can only put TLS on a socket, and through an ``https://`` proxy the
tunnel is itself a TLS stream. So the inner TLS runs in an ``ssl.SSLObject`` between
two memory BIOs: what it wants sent is taken from the outgoing BIO and written to the
proxy's stream, and what that stream reads is put in the incoming BIO until the
``SSLObject`` has what it asked for (``SSLWantReadError`` says it wants more). The
outer stream maps its own failures; the ``ssl`` errors of the inner TLS are mapped
here, as :class:`~.sockets.SocketBackend` maps them for a socket.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import TypeVar

from .._core.errors import ConnectError, NetworkError, TimeoutException, TLSError
from .sockets import READ_SIZE, SocketStream

__all__ = ["TLSInTLSStream"]

_T = TypeVar("_T")


class TLSInTLSStream:
    """TLS with the origin, carried by the TLS stream to an ``https://`` proxy.

    Made by :meth:`handshake`; reads, writes and closes as
    :class:`~.sockets.SocketStream` does.
    """

    def __init__(self, outer: SocketStream, context: ssl.SSLContext, hostname: str) -> None:
        self._outer = outer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)

    @classmethod
    def handshake(
        cls,
        outer: SocketStream,
        context: ssl.SSLContext,
        hostname: str,
        timeout: float | None,
        on_timeout: type[TimeoutException],
    ) -> TLSInTLSStream:
        """TLS with ``hostname`` on ``outer``, handshake done within ``timeout``;
        ``outer`` is closed if that fails.

        Raises:
            TimeoutException: ``on_timeout``.
            TLSError: The certificate did not verify.
            ConnectError: The handshake failed or broke off.
        """
        stream = cls(outer, context, hostname)
        try:
            stream._run(stream._tls.do_handshake, timeout, on_timeout)
        except ssl.SSLCertVerificationError as exc:
            outer.close()
            raise TLSError(
                f"the certificate of {hostname} did not verify: {exc.verify_message}"
            ) from None
        except ssl.SSLError as exc:
            outer.close()
            raise ConnectError(f"TLS with {hostname} failed: {exc}") from None
        except NetworkError as exc:
            outer.close()
            raise ConnectError(f"TLS with {hostname} failed: {exc}") from None
        except BaseException:
            outer.close()
            raise
        return stream

    def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        """Some bytes, or ``b""`` once the server closed its side (with or without
        TLS's close_notify: the HTTP framing tells a cut reply)."""
        try:
            return self._run(lambda: self._tls.read(READ_SIZE), timeout, on_timeout)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""
        except ssl.SSLError as exc:
            raise NetworkError(f"reading from the server failed: {exc}") from None

    def write(self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]) -> None:
        """Send all of ``data``."""
        try:
            self._run(lambda: self._tls.write(data), timeout, on_timeout)
        except ssl.SSLError as exc:
            raise NetworkError(f"sending to the server failed: {exc}") from None

    def is_readable(self) -> bool:
        """Whether anything waits: in the inner TLS, its incoming BIO, or the outer."""
        return bool(self._tls.pending() or self._incoming.pending or self._outer.is_readable())

    def close(self) -> None:
        """Close the connection (no TLS goodbye); never fails."""
        self._outer.close()

    def _run(
        self, action: Callable[[], _T], timeout: float | None, on_timeout: type[TimeoutException]
    ) -> _T:
        """Do ``action`` on the inner TLS, moving bytes through the outer stream until
        it is done, all within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                result = action()
            except ssl.SSLWantReadError:
                self._flush(deadline, on_timeout)
                data = self._outer.read(_left(deadline, on_timeout), on_timeout)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            self._flush(deadline, on_timeout)
            return result

    def _flush(self, deadline: float | None, on_timeout: type[TimeoutException]) -> None:
        data = self._outgoing.read()
        if data:
            self._outer.write(data, _left(deadline, on_timeout), on_timeout)


def _left(deadline: float | None, on_timeout: type[TimeoutException]) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise on_timeout("no time was left for TLS inside the tunnel")
    return left
