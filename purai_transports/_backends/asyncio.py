"""The asyncio backend: byte streams on asyncio's transports and protocols.

``AsyncClient`` uses it whenever the running loop is asyncio's (or uvloop); on trio it
uses the anyio backend. It exists for what a stream costs per chunk: anyio's asyncio
stream is built on a protocol too, but pauses the transport's reading after every
receive and resumes it before the next (so the socket is added to and removed from
epoll on each read), and a timeout is a cancel scope per read. Here:

* The protocol (:class:`_Receiver`) keeps what arrives and wakes the one reader; it
  stops the transport only when the reader falls far behind (flow control).
* A read's limit is a deadline kept per stream (:class:`_Deadline`): one timer, moved
  lazily. A read only notes its deadline; the timer, when it fires early because the
  deadline moved on, sets itself again for the new one. At one read per chunk that is
  one timer per limit's length, not one per read.
* Reading goes on while a request is written, so an answer the server sent before it
  stopped reading a long request (a ``413``) is kept for the next read, with no task
  of its own (compare :mod:`~purai_transports._backends.early_reply`).

The one place where this backend's exceptions become the library's own.
"""

from __future__ import annotations

import asyncio
import functools
import math
import ssl
from typing import Any

import anyio

from purai_proto import PuraiError

from .._core.errors import TimeoutException
from .._core.operations import Connect
from .._core.settings import VerifyArg
from .failures import Doing, failure
from .sockets import READ_SIZE, SocketPoller, TLSContextOnDemand

__all__ = ["AsyncioBackend", "AsyncioStream", "running_on_asyncio"]

#: Bytes held unread before the transport stops reading from the socket.
HELD_MOST = 4 * READ_SIZE
#: Bytes handed to the transport at a time.
WRITE_SIZE = READ_SIZE
#: The longest a close waits for the transport to let its socket go (a graceful one
#: sends what it holds first).
CLOSE_WAIT = 5.0


def running_on_asyncio() -> bool:
    """Whether the running event loop is asyncio's (uvloop's counts), not trio's."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Receiver(asyncio.BufferedProtocol):
    """One connection's protocol: holds what arrived until it is read; tells the
    reader and the writer when to go on.

    A buffered protocol, so that the transport receives into ``buffer``, which all of
    a backend's connections share: a plain protocol is handed a new 256 KiB ``bytes``
    per receive, cut down to what came, and allocating that costs more than the rest
    of a chunk's reading. What came is copied out at once.
    """

    def __init__(self, buffer: memoryview) -> None:
        self.buffer = buffer
        self.transport: asyncio.Transport | None = None
        self.held: list[bytes] = []
        self.held_size = 0
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None  # what broke the connection, if it broke
        self.reader: asyncio.Future[None] | None = None  # the read waiting for bytes
        self.writer: asyncio.Future[None] | None = None  # the write waiting for room
        self.closer: asyncio.Future[None] | None = None  # the close waiting for its end
        self.writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(self.buffer[:nbytes])
        self.held.append(data)
        self.held_size += len(data)
        if self.held_size > HELD_MOST and self.transport is not None:
            self.transport.pause_reading()  # resumed by take()
        _wake(self.reader)

    def eof_received(self) -> None:
        self.eof = True
        _wake(self.reader)
        # Returning None lets the transport close: the reply is read to its end first.

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        _wake(self.reader)
        _wake(self.writer)
        _wake(self.closer)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.writer)

    def take(self) -> bytes:
        """Everything held, at once; the transport reads again if it had stopped."""
        held = self.held
        data = held[0] if len(held) == 1 else b"".join(held)
        self.held = []
        if self.held_size > HELD_MOST and self.transport is not None:
            self.transport.resume_reading()
        self.held_size = 0
        return data


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _Deadline:
    """When the read waiting on a stream runs out of time, with one timer for all of
    its reads.

    Invariant: while a timer is set, it is set for no later than :attr:`at`. A read
    moves :attr:`at` on without touching the timer, unless the timer would fire too
    late; a timer that fires before :attr:`at` sets itself again for it.
    """

    __slots__ = ("_loop", "_on_expiry", "_timer", "_timer_at", "at")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expiry: Any) -> None:
        self._loop = loop
        self._on_expiry = on_expiry
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self.at = math.inf

    def set(self, timeout: float | None) -> None:
        """The next wait may last ``timeout`` seconds (``None``: for ever)."""
        if timeout is None:
            self.at = math.inf
            return
        at = self.at = self._loop.time() + timeout
        if at < self._timer_at:
            self._start(at)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf

    def _start(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = self._loop.call_at(at, self._fired), at

    def _fired(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self.at <= self._loop.time():
            self._on_expiry()
        elif self.at != math.inf:
            self._start(self.at)


class AsyncioStream:
    """An asyncio connection that reads and writes with timeouts."""

    __slots__ = ("_deadline", "_expired", "_loop", "_poller", "_receiver", "_transport")

    def __init__(self, transport: asyncio.Transport, receiver: _Receiver) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._receiver = receiver
        self._deadline = _Deadline(self._loop, self._expire)
        self._expired = False
        self._poller: SocketPoller | None = None  # made when first asked

    async def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        """Some bytes, or ``b""`` once the server closed its side."""
        receiver = self._receiver
        if not (receiver.held or receiver.eof or receiver.lost):
            if timeout is not None and timeout <= 0:
                raise on_timeout("no time was left to wait for data")
            self._deadline.set(timeout)
            self._expired = False
            waiter = receiver.reader = self._loop.create_future()
            try:
                await waiter
            finally:
                receiver.reader = None
            if self._expired and not receiver.held:
                raise _failure("read", TimeoutError(), timeout, on_timeout, timed_out=True)
        if receiver.held:
            return receiver.take()
        error = receiver.error
        # A TLS peer that closes without close_notify (most HTTP servers do) ends the
        # stream as EOF would: the HTTP framing tells a complete reply from a cut one.
        if error is None or isinstance(error, ssl.SSLEOFError):
            return b""
        raise _failure("read", error, timeout, on_timeout)

    def _expire(self) -> None:
        self._expired = True
        _wake(self._receiver.reader)

    async def write(
        self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> None:
        """Send all of ``data``: hand it to the transport, within ``timeout`` a piece at
        a time while the transport holds more than it wants to."""
        receiver = self._receiver
        if receiver.lost or self._transport.is_closing():
            raise _failure("write", receiver.error or _closed(), timeout, on_timeout)
        self._transport.write(data[:WRITE_SIZE])  # all of a short one, not copied
        if len(data) <= WRITE_SIZE and not receiver.writing_paused:
            return
        try:
            await asyncio.wait_for(self._write_rest(memoryview(data)[WRITE_SIZE:]), timeout)
        except asyncio.TimeoutError as exc:  # not builtins.TimeoutError before 3.11
            raise _failure("write", exc, timeout, on_timeout, timed_out=True) from None

    async def _write_rest(self, rest: memoryview) -> None:
        """Hand ``rest`` over a piece at a time, each once the transport has room.

        In pieces, because asyncio's TLS transport encrypts all it is given into its
        socket's buffer at once and so never says that it is full: a long request
        would seem sent before the server read any of it.
        """
        for start in range(0, len(rest), WRITE_SIZE):
            await self._room()
            self._transport.write(rest[start : start + WRITE_SIZE])
        await self._room()

    async def _room(self) -> None:
        """Wait until the transport takes more; raises if the connection broke.

        Always lets the loop turn once: a TLS transport whose socket failed tells the
        protocol (and so this stream) only on the loop's next turn.
        """
        receiver = self._receiver
        await asyncio.sleep(0)
        while receiver.writing_paused and not receiver.lost:
            waiter = receiver.writer = self._loop.create_future()
            try:
                await waiter
            finally:
                receiver.writer = None
        # A failed send closes the transport at once, and tells the protocol later.
        if receiver.lost or self._transport.is_closing():
            raise _failure("write", receiver.error or _closed(), None, TimeoutException)

    def is_readable(self) -> bool:
        """Whether anything waits to be read, without waiting: what the protocol holds
        (TLS records included: the transport decrypts them as they come), then what
        the kernel holds and the loop did not read yet."""
        receiver = self._receiver
        if receiver.held or receiver.eof or receiver.lost:
            return True
        if self._poller is None:
            self._poller = SocketPoller(self._transport.get_extra_info("socket"))
        return self._poller.readable()

    async def aclose(self) -> None:
        """Close, sending what the transport still holds; never fails.

        TLS closes at once, without the goodbye (``close_notify``) that a graceful
        close would wait for, as the anyio backend's ``tls_standard_compatible=False``
        does: HTTP's framing, not TLS's, tells a complete reply from a cut one.
        """
        if self._transport.get_extra_info("sslcontext") is not None:
            self._transport.abort()
        else:
            self._transport.close()
        await self._closed()

    async def abort(self) -> None:
        """Close at once; never fails."""
        self._transport.abort()
        await self._closed()

    async def _closed(self) -> None:
        """Wait, shielded from cancellation, until the transport closed its socket (on
        a later turn of the loop): the peer then knows, and nothing is left open."""
        self._deadline.cancel()
        receiver = self._receiver
        if receiver.lost:
            return
        waiter = receiver.closer = self._loop.create_future()
        with anyio.CancelScope(shield=True, deadline=anyio.current_time() + CLOSE_WAIT):
            await waiter


class AsyncioBackend:
    """Opens :class:`AsyncioStream` connections with ``loop.create_connection``."""

    def __init__(self, verify: VerifyArg = True, trust_env: bool = True) -> None:
        self._tls = TLSContextOnDemand(verify, trust_env)
        self._buffer = memoryview(bytearray(READ_SIZE))  # see _Receiver

    async def connect(self, op: Connect) -> AsyncioStream:
        """Connect to ``op.origin`` (TLS for https) within ``op.timeout``."""
        origin = op.origin
        where = f"{origin.host}:{origin.port}"
        loop = asyncio.get_running_loop()
        tls = self._tls.get() if origin.tls else None
        opening = loop.create_connection(
            functools.partial(_Receiver, self._buffer),
            origin.host,
            origin.port,
            ssl=tls,
            server_hostname=origin.host if tls else None,
        )
        try:
            try:
                transport, receiver = await asyncio.wait_for(opening, op.timeout)
            except BaseException:
                # asyncio closed what it opened, but lets the socket go on the loop's
                # next turn: give it that turn, so that nothing is left open when this
                # returns (cancellation included).
                with anyio.CancelScope(shield=True):
                    await asyncio.sleep(0)
                raise
        except asyncio.TimeoutError as exc:
            raise _failure(
                "connect", exc, op.timeout, op.on_timeout, where, timed_out=True
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise _failure("connect", exc, op.timeout, op.on_timeout, where) from None
        assert isinstance(transport, asyncio.Transport)
        return AsyncioStream(transport, receiver)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries); cancellable."""
        await asyncio.sleep(seconds)


def _closed() -> ConnectionError:
    return ConnectionError("the connection is closed")


def _failure(
    doing: Doing,
    exc: BaseException,
    timeout: float | None,
    on_timeout: type[TimeoutException],
    where: str = "",
    *,
    timed_out: bool = False,
) -> PuraiError:
    """The library's error for what asyncio raised or reported."""
    return failure(
        doing, exc, timed_out=timed_out, timeout=timeout, on_timeout=on_timeout, where=where
    )
