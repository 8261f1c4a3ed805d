"""The anyio backend: byte streams on anyio's TCP and TLS, for asyncio and trio alike.

The only place where the anyio client touches anyio's network API, and so the one
place where anyio's exceptions become the library's own.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import socket
import ssl

import anyio
import anyio.abc
import anyio.streams.tls

from purai_proto import PuraiError

from .._core.errors import TimeoutException
from .._core.operations import Connect, Resolve, StartTLS
from .._core.settings import VerifyArg
from .early_reply import EarlyReplyStream, may_be_answered_early
from .failures import Doing, failure
from .sockets import READ_SIZE, SocketPoller, TLSContextOnDemand, lookup_failed, resolved

__all__ = ["AnyioBackend", "AnyioStream"]

_BROKEN = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, ssl.SSLError)
#: Everything :func:`_failure` maps: the broken connections and anyio's timeout.
_FAILURES = (builtins.TimeoutError, anyio.EndOfStream, *_BROKEN)


class AnyioStream(EarlyReplyStream):
    """An anyio byte stream that reads and writes with timeouts."""

    __slots__ = ("_stream",)

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__()
        self._stream = stream

    async def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        """Some bytes, or ``b""`` once the server closed its side."""
        if self._early:
            return self._take_early()
        try:
            if timeout is None:
                return await self._stream.receive(READ_SIZE)
            # A bare scope, not fail_after(): at one read per chunk, fail_after's two
            # context managers cost more than the scope itself.
            with anyio.CancelScope(deadline=anyio.current_time() + timeout):
                return await self._stream.receive(READ_SIZE)
        except anyio.EndOfStream:
            return b""
        except _FAILURES as exc:
            raise _failure("read", exc, timeout, on_timeout) from None
        # Only the scope's deadline cancels it: the time ran out.
        raise _failure("read", builtins.TimeoutError(), timeout, on_timeout)

    async def write(
        self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> None:
        """Send all of ``data``; a long request is sent while reading (see
        :mod:`~purai_transports._backends.early_reply`)."""
        try:
            with anyio.fail_after(timeout):
                if may_be_answered_early(data):
                    send = functools.partial(self._stream.send, data)
                    await self._send_reading(send, self._receive, _BROKEN)
                else:
                    await self._stream.send(data)
        except _FAILURES as exc:
            raise _failure("write", exc, timeout, on_timeout) from None

    async def _receive(self) -> bytes:
        try:
            return await self._stream.receive(READ_SIZE)
        except anyio.EndOfStream:
            return b""

    def is_readable(self) -> bool:
        """Whether anything waits to be read, without waiting: what the kernel holds
        (:class:`~purai_transports._backends.sockets.SocketPoller`) and what anyio read
        from it and holds (:func:`_held_by_anyio`)."""
        stream = self._stream
        if self._early or _held_by_anyio(stream):
            return True
        if self._poller is None:  # anyio's extra() costs more than the poll: once
            self._poller = SocketPoller(stream.extra(anyio.abc.SocketAttribute.raw_socket))
        return self._poller.readable()

    async def aclose(self) -> None:
        """Close gracefully, shielded from cancellation; never fails."""
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(*_BROKEN):
                await self._stream.aclose()

    async def abort(self) -> None:
        """Close at once (no TLS goodbye), shielded from cancellation."""
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(self._stream)


def _held_by_anyio(stream: anyio.abc.ByteStream) -> bool:
    """Whether anyio holds bytes (or EOF) it read from the socket and did not hand out.

    Two places can hold them, and anyio offers no public way to ask either:

    * TLS: ``TLSStream`` reads what the socket has into a memory BIO and decrypts one
      record per ``receive()``; records after the last one handed out stay in the BIO,
      and the rest of a record in the ``SSLObject`` (``pending()``).
    * asyncio: the transport can read once more after ``receive()`` paused it, into
      the protocol's queue.

    Both are looked up defensively: an anyio that renames them makes this answer
    False, and ``tests/transports/test_pool.py`` checks these buffers are seen.
    """
    transport: object = stream
    while isinstance(transport, anyio.streams.tls.TLSStream):  # TLS in TLS: each layer
        ssl_object = transport.extra(anyio.streams.tls.TLSAttribute.ssl_object)
        read_bio = getattr(transport, "_read_bio", None)
        if ssl_object.pending() or (read_bio is not None and read_bio.pending):
            return True
        transport = transport.transport_stream
    protocol = getattr(transport, "_protocol", None)
    return bool(getattr(protocol, "read_queue", None)) or bool(
        getattr(protocol, "is_at_eof", False)
    )


class AnyioBackend:
    """Opens :class:`AnyioStream` connections; sleeps with ``anyio.sleep``."""

    def __init__(self, verify: VerifyArg = True, trust_env: bool = True) -> None:
        self._tls = TLSContextOnDemand(verify, trust_env)

    async def connect(self, op: Connect) -> AnyioStream:
        """Connect to ``op.origin`` (TLS for https) within ``op.timeout``."""
        origin = op.origin
        where = f"{origin.host}:{origin.port}"
        try:
            with anyio.fail_after(op.timeout):
                stream: anyio.abc.ByteStream
                if origin.tls:
                    stream = await anyio.connect_tcp(
                        origin.host,
                        origin.port,
                        ssl_context=self._tls.get(),
                        tls_hostname=origin.host,
                        # HTTP servers often close without TLS's close_notify; the HTTP
                        # framing tells a complete reply from a cut one.
                        tls_standard_compatible=False,
                    )
                else:
                    stream = await anyio.connect_tcp(origin.host, origin.port)
        except _FAILURES as exc:
            raise _failure("connect", exc, op.timeout, op.on_timeout, where) from None
        return AnyioStream(stream)

    async def start_tls(self, op: StartTLS) -> AnyioStream:
        """TLS with ``op.server_hostname`` inside a tunnel (inside the proxy's own TLS,
        for an ``https://`` proxy: anyio wraps any byte stream)."""
        stream = op.stream
        assert isinstance(stream, AnyioStream)
        hostname = op.server_hostname
        try:
            with anyio.fail_after(op.timeout):
                tls = await anyio.streams.tls.TLSStream.wrap(
                    stream._stream,
                    hostname=hostname,
                    ssl_context=self._tls.get(),
                    standard_compatible=False,  # as in connect()
                )
        except _FAILURES as exc:
            await stream.abort()
            raise _failure("connect", exc, op.timeout, op.on_timeout, hostname) from None
        return AnyioStream(tls)

    async def resolve(self, op: Resolve) -> str:
        """One address of ``op.host``, within ``op.timeout``."""
        try:
            with anyio.fail_after(op.timeout):
                found = await anyio.getaddrinfo(op.host, op.port, type=socket.SOCK_STREAM)
        except builtins.TimeoutError:
            raise op.on_timeout(f"looking {op.host} up took over {op.timeout:.3g} s") from None
        except OSError as exc:
            raise lookup_failed(op, exc) from None
        return resolved(op, lambda: list(found))

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries); cancellable."""
        await anyio.sleep(seconds)


def _failure(
    doing: Doing,
    exc: BaseException,
    timeout: float | None,
    on_timeout: type[TimeoutException],
    where: str = "",
) -> PuraiError:
    """The library's error for what anyio raised: one of :data:`_FAILURES`."""
    timed_out = isinstance(exc, builtins.TimeoutError)  # anyio.fail_after's
    return failure(
        doing, exc, timed_out=timed_out, timeout=timeout, on_timeout=on_timeout, where=where
    )
