"""The trio backend: byte streams on native trio TCP and TLS streams.

The only place where the trio client touches trio's network API, and so the one place
where trio's exceptions become the library's own.
"""

from __future__ import annotations

import contextlib
import math
import ssl

import trio

from .._core.errors import (
    ConnectError,
    NetworkError,
    TimeoutException,
    TLSError,
)
from .._core.operations import Connect
from .early_reply import may_be_answered_early, send_while_reading
from .sockets import READ_SIZE, SocketPoller, TLSContextOnDemand

__all__ = ["TrioBackend", "TrioStream"]

_BROKEN = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError)


class TrioStream:
    """A trio stream that reads and writes with timeouts."""

    __slots__ = ("_early", "_poller", "_stream")

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._poller: SocketPoller | None = None  # made when first asked
        self._early = b""  # read while a long request was written: read() returns it first

    async def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        """Some bytes, or ``b""`` once the server closed its side."""
        if self._early:
            early, self._early = self._early, b""
            return early
        try:
            if timeout is None:
                return bytes(await self._stream.receive_some(READ_SIZE))
            with trio.fail_after(timeout):
                return bytes(await self._stream.receive_some(READ_SIZE))
        except trio.TooSlowError:
            raise on_timeout(f"no data for {timeout:.3g} s") from None
        except _BROKEN as exc:
            raise NetworkError(f"reading from the server failed: {exc!r}") from None

    async def write(
        self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> None:
        """Send all of ``data``; a long request is sent while reading (see
        :mod:`~purai_transports._backends.early_reply`)."""
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                if may_be_answered_early(data):
                    await self._send_reading(data)
                else:
                    await self._stream.send_all(data)
        except trio.TooSlowError:
            raise on_timeout(f"sending took over {timeout:.3g} s") from None
        except _BROKEN as exc:
            raise NetworkError(f"sending to the server failed: {exc!r}") from None

    async def _send_reading(self, data: bytes) -> None:
        async def receive() -> bytes:
            return bytes(await self._stream.receive_some(READ_SIZE))

        self._early, failure = await send_while_reading(
            lambda: self._stream.send_all(data), receive, _BROKEN
        )
        if failure is not None:
            raise failure

    def is_readable(self) -> bool:
        """Whether anything waits to be read, without waiting.

        trio's ``SSLStream`` reads what the socket has into a memory BIO and decrypts
        one record per ``receive_some()``: records after the last one handed out stay
        there (trio offers no public way to ask; looked up defensively, and
        ``tests/test_transports.py`` checks it is seen), the rest of a record in the
        ``SSLObject`` (``pending()``). Then the kernel's socket.
        """
        if self._early:
            return True
        stream = self._stream
        if isinstance(stream, trio.SSLStream):
            incoming = getattr(stream, "_incoming", None)
            if stream.pending() or (incoming is not None and incoming.pending):
                return True
            stream = stream.transport_stream
        if self._poller is None:
            self._poller = SocketPoller(getattr(stream, "socket", None))
        return self._poller.readable()

    async def aclose(self) -> None:
        """Close gracefully, shielded from cancellation; never fails."""
        with trio.CancelScope(shield=True), contextlib.suppress(*_BROKEN):
            await self._stream.aclose()

    async def abort(self) -> None:
        """Close at once (no TLS goodbye), shielded from cancellation."""
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(self._stream)


class TrioBackend:
    """Opens :class:`TrioStream` connections; sleeps with ``trio.sleep``."""

    def __init__(self, verify: bool | ssl.SSLContext = True) -> None:
        self._tls = TLSContextOnDemand(verify)

    async def connect(self, op: Connect) -> TrioStream:
        """Connect to ``op.origin`` (TLS for https) within ``op.timeout``."""
        origin = op.origin
        where = f"{origin.host}:{origin.port}"
        stream: trio.abc.Stream | None = None
        try:
            with trio.fail_after(math.inf if op.timeout is None else op.timeout):
                stream = await trio.open_tcp_stream(origin.host, origin.port)
                if origin.tls:
                    # https_compatible: HTTP servers often close without TLS's
                    # close_notify; the HTTP framing tells a complete reply from a cut one.
                    stream = trio.SSLStream(
                        stream,
                        self._tls.get(),
                        server_hostname=origin.host,
                        https_compatible=True,
                    )
                    await stream.do_handshake()
        except BaseException as exc:
            # Whatever stopped the connection halfway, cancellation included, must not
            # leave its socket open.
            await _abort(stream)
            if isinstance(exc, trio.TooSlowError):
                raise op.on_timeout(f"connecting to {where} took over {op.timeout:.3g} s") from None
            # trio reports a failed handshake as BrokenResourceError, caused by ssl's error.
            reason = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise TLSError(
                    f"the certificate of {where} did not verify: {reason.verify_message}"
                ) from None
            if isinstance(reason, ssl.SSLError):
                raise ConnectError(f"TLS with {where} failed: {reason}") from None
            if isinstance(exc, _BROKEN):
                raise ConnectError(f"cannot connect to {where}: {exc!r}") from None
            raise
        return TrioStream(stream)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries); cancellable."""
        await trio.sleep(seconds)


async def _abort(stream: trio.abc.Stream | None) -> None:
    if stream is not None:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
