"""The trio backend: byte streams on native trio TCP and TLS streams.

The only place where the trio client touches trio's network API, and so the one place
where trio's exceptions become the library's own.

A plain-TCP read skips ``SocketStream.receive_some``: that tries a ``recv`` first,
which at a streaming pace fails (the next chunk is not there yet), then waits and
tries again, inside a conflict detector and an error-translating wrapper. Here a
read waits for the socket with ``trio.lowlevel.wait_readable`` and then reads once,
straight from its descriptor. Writes, closes and TLS stay on trio's streams (a TLS
read needs ``SSLStream``'s record handling).

A read's time limit is kept by one timer task per trio run (:class:`_ReadTimer`), not
by a cancel scope per read: with a hundred paced streams, a scope with a deadline per
read made ``TrioClient`` spend 52 µs of CPU per chunk against 38 with the timer
(medians of 12 interleaved rounds), and aiohttp 48.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import socket
import ssl

import trio

from purai_proto import PuraiError

from .._core.errors import TimeoutException
from .._core.operations import Connect, Resolve, StartTLS
from .._core.settings import VerifyArg
from .early_reply import EarlyReplyStream, may_be_answered_early
from .failures import Doing, failure
from .sockets import READ_SIZE, SocketPoller, TLSContextOnDemand, lookup_failed, resolved

__all__ = ["TrioBackend", "TrioStream"]

_BROKEN = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError)
#: Everything :func:`_failure` maps: the broken connections and trio's timeout.
_FAILURES = (trio.TooSlowError, *_BROKEN)


class TrioStream(EarlyReplyStream):
    """A trio stream that reads and writes with timeouts."""

    __slots__ = ("_expired", "_socket", "_stream")

    def __init__(self, stream: trio.abc.Stream) -> None:
        super().__init__()
        self._stream = stream
        #: The socket a plain-TCP stream reads from directly; None for TLS, and where
        #: a descriptor cannot be read with ``os.read`` (Windows).
        self._socket: trio.socket.SocketType | None = None
        if isinstance(stream, trio.SocketStream) and os.name == "posix":
            self._socket = stream.socket
        #: Set by the read timer when the read in progress ran out of time.
        self._expired = False

    async def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes:
        """Some bytes, or ``b""`` once the server closed its side."""
        if self._early:
            return self._take_early()
        try:
            if timeout is None:
                return await self._receive()
            if self._socket is None:
                # TLS: SSLStream checkpoints before it waits, so a deadline could pass
                # with no waiter to wake; a bare scope (cheaper than fail_after) instead.
                with trio.CancelScope(deadline=trio.current_time() + timeout):
                    return await self._receive()
                # Only the scope's deadline cancels it: the time ran out.
                raise trio.TooSlowError
            timer = _ReadTimer.of_this_run()
            self._expired = False
            timer.add(self, trio.current_time() + timeout)
            try:
                data = await self._receive()
            finally:
                timer.discard(self)
            # The timer may have fired just as the bytes came: they came in time, and
            # the next read (with no limit, or while writing) must not see a timeout.
            self._expired = False
            return data
        except _FAILURES as exc:
            # The timer wakes a read that ran out of time with ClosedResourceError.
            cause = trio.TooSlowError() if self._expired else exc
            raise _failure("read", cause, timeout, on_timeout) from None

    def _expire(self) -> None:
        """The read timer's call: wake the read waiting on this stream's socket.

        The read raises ``ClosedResourceError``, reported as a timeout, and the
        connection is then closed, as after any timed-out read (which is what
        ``notify_closing`` asks of its caller). A read that got its bytes just before
        is not waiting any more, and returns them.
        """
        assert self._socket is not None
        self._expired = True
        trio.lowlevel.notify_closing(self._socket)

    async def write(
        self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> None:
        """Send all of ``data``; a long request is sent while reading (see
        :mod:`~purai_transports._backends.early_reply`)."""
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                if may_be_answered_early(data):
                    send = functools.partial(self._stream.send_all, data)
                    await self._send_reading(send, self._receive, _BROKEN)
                else:
                    await self._stream.send_all(data)
        except _FAILURES as exc:
            raise _failure("write", exc, timeout, on_timeout) from None

    async def _receive(self) -> bytes:
        """Some bytes, ``b""`` at EOF; raises what trio or the socket raised."""
        sock = self._socket
        if sock is None:
            return bytes(await self._stream.receive_some(READ_SIZE))
        while True:
            # Asked each time, not kept: a closed socket says -1 rather than a
            # number the kernel may have handed to another connection since.
            fd = sock.fileno()
            if fd < 0:
                raise trio.ClosedResourceError("the connection was closed")
            if self._expired:  # the timer came while this read was not waiting
                raise trio.ClosedResourceError("the read ran out of time")
            # No checkpoint from here to the wait: a timer that fires while the
            # read waits always finds it registered.
            await trio.lowlevel.wait_readable(fd)
            try:
                return os.read(fd, READ_SIZE)
            except BlockingIOError:  # woken with nothing to read after all
                continue

    def is_readable(self) -> bool:
        """Whether anything waits to be read, without waiting.

        trio's ``SSLStream`` reads what the socket has into a memory BIO and decrypts
        one record per ``receive_some()``: records after the last one handed out stay
        there (trio offers no public way to ask; looked up defensively, and
        ``tests/transports/test_pool.py`` checks it is seen), the rest of a record in the
        ``SSLObject`` (``pending()``). Then the kernel's socket.
        """
        if self._early:
            return True
        stream = self._stream
        while isinstance(stream, trio.SSLStream):  # TLS in TLS: each layer
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


class _ReadTimer:
    """The time limits of every read in one trio run, kept by one sleeping task.

    trio has no timer but a cancel scope's deadline, and a scope per read costs more
    than the read at a streaming pace. Instead, a read registers its deadline here and
    one system task sleeps until the earliest; at a deadline it wakes the read it
    belongs to (:meth:`TrioStream._expire`). As each read moves its own deadline
    forward, the task mostly wakes once per time limit, finds every deadline moved,
    and sleeps again: O(streams) work per wake-up, none per read.
    """

    _THIS_RUN: trio.lowlevel.RunVar[_ReadTimer] = trio.lowlevel.RunVar("purai_read_timer")

    def __init__(self) -> None:
        self._deadlines: dict[TrioStream, float] = {}
        self._wake_at = math.inf
        self._sleep = trio.CancelScope()

    @classmethod
    def of_this_run(cls) -> _ReadTimer:
        """The timer of the running trio run, started on its first read."""
        try:
            return cls._THIS_RUN.get()
        except LookupError:
            timer = cls()
            cls._THIS_RUN.set(timer)
            trio.lowlevel.spawn_system_task(timer._run, name="purai read timer")
            return timer

    def add(self, stream: TrioStream, deadline: float) -> None:
        self._deadlines[stream] = deadline
        if deadline < self._wake_at:  # sooner than the task means to wake: wake it then
            self._wake_at = self._sleep.deadline = deadline

    def discard(self, stream: TrioStream) -> None:
        self._deadlines.pop(stream, None)

    async def _run(self) -> None:
        while True:  # until the run ends: system tasks are cancelled then
            with trio.CancelScope(deadline=self._wake_at) as self._sleep:
                await trio.sleep_forever()
            now = trio.current_time()
            for stream, deadline in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[stream]
                    stream._expire()
            self._wake_at = min(self._deadlines.values(), default=math.inf)


class TrioBackend:
    """Opens :class:`TrioStream` connections; sleeps with ``trio.sleep``."""

    def __init__(self, verify: VerifyArg = True, trust_env: bool = True) -> None:
        self._tls = TLSContextOnDemand(verify, trust_env)

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
            if isinstance(exc, _FAILURES):
                raise _failure("connect", exc, op.timeout, op.on_timeout, where) from None
            raise
        return TrioStream(stream)

    async def start_tls(self, op: StartTLS) -> TrioStream:
        """TLS with ``op.server_hostname`` inside a tunnel (inside the proxy's own TLS,
        for an ``https://`` proxy: trio wraps any stream)."""
        stream = op.stream
        assert isinstance(stream, TrioStream)
        hostname = op.server_hostname
        tls = trio.SSLStream(
            stream._stream, self._tls.get(), server_hostname=hostname, https_compatible=True
        )
        try:
            with trio.fail_after(math.inf if op.timeout is None else op.timeout):
                await tls.do_handshake()
        except BaseException as exc:
            await _abort(tls)  # as in connect(): never leave the socket open
            if isinstance(exc, _FAILURES):
                raise _failure("connect", exc, op.timeout, op.on_timeout, hostname) from None
            raise
        return TrioStream(tls)

    async def resolve(self, op: Resolve) -> str:
        """One address of ``op.host``, within ``op.timeout``."""
        try:
            with trio.fail_after(math.inf if op.timeout is None else op.timeout):
                found = await trio.socket.getaddrinfo(op.host, op.port, type=socket.SOCK_STREAM)
        except trio.TooSlowError:
            raise op.on_timeout(f"looking {op.host} up took over {op.timeout:.3g} s") from None
        except OSError as exc:
            raise lookup_failed(op, exc) from None
        return resolved(op, lambda: list(found))

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries); cancellable."""
        await trio.sleep(seconds)


def _failure(
    doing: Doing,
    exc: BaseException,
    timeout: float | None,
    on_timeout: type[TimeoutException],
    where: str = "",
) -> PuraiError:
    """The library's error for what trio raised: one of :data:`_FAILURES`."""
    cause = exc.__cause__
    if doing == "connect" and isinstance(exc, trio.BrokenResourceError):
        # trio reports a failed handshake so, caused by ssl's error: that is the reason.
        exc = cause if isinstance(cause, ssl.SSLError) else exc
    timed_out = isinstance(exc, trio.TooSlowError)  # trio.fail_after's
    return failure(
        doing, exc, timed_out=timed_out, timeout=timeout, on_timeout=on_timeout, where=where
    )


async def _abort(stream: trio.abc.Stream | None) -> None:
    if stream is not None:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
