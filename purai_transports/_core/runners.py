"""The two tiny loops that drive :class:`~purai_transports._core.exchange.Exchange`.

Each performs the operations an exchange yields with a backend and hands out the
chunks it yields. They are mirror images, one blocking and one async, and deliberately
hold no logic of their own beyond that: what to do lives in the exchange, how to do
I/O lives in the backends.

A backend's streams raise only the library's exceptions; the loops throw those into
the exchange, which decides whether to retry. Whatever ends an exchange early (an
exception, ``close()``, cancellation) closes the connection it was using, so that a
half-read reply never goes back to the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any, Protocol

from purai_proto import ChatCompletionChunk, PuraiError

from .errors import TimeoutException
from .operations import Close, Connect, Poll, Read, Resolve, Sleep, StartTLS, Write

__all__ = ["AsyncBackend", "AsyncRun", "SyncBackend", "SyncRun"]


class SyncStream(Protocol):
    def read(self, timeout: float | None, on_timeout: type[TimeoutException]) -> bytes: ...
    def write(
        self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> None: ...
    def is_readable(self) -> bool: ...
    def close(self) -> None: ...


class SyncBackend(Protocol):
    def connect(self, op: Connect) -> SyncStream: ...
    def start_tls(self, op: StartTLS) -> SyncStream: ...
    def resolve(self, op: Resolve) -> str: ...
    def sleep(self, seconds: float) -> None: ...


class AsyncStream(Protocol):
    def read(
        self, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> Awaitable[bytes]: ...
    def write(
        self, data: bytes, timeout: float | None, on_timeout: type[TimeoutException]
    ) -> Awaitable[None]: ...
    def is_readable(self) -> bool: ...
    def aclose(self) -> Awaitable[None]: ...
    def abort(self) -> Awaitable[None]: ...


class AsyncBackend(Protocol):
    def connect(self, op: Connect) -> Awaitable[AsyncStream]: ...
    def start_tls(self, op: StartTLS) -> Awaitable[AsyncStream]: ...
    def resolve(self, op: Resolve) -> Awaitable[str]: ...
    def sleep(self, seconds: float) -> Awaitable[None]: ...


class _Run:
    """What both loops keep: the exchange's generator and what to send it next."""

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self._gen: Generator[Any, Any, None] = exchange.run()
        self.finished = False

    def _step(self, value: Any, error: BaseException | None) -> Any:
        """Resume the exchange; its next operation or chunk, or None at its end."""
        try:
            if error is not None:
                return self._gen.throw(error)
            return self._gen.send(value)
        except StopIteration:
            self.finished = True
            return None


class SyncRun(_Run):
    """Drives an exchange with blocking I/O; iterate it for the chunks."""

    def __init__(self, exchange: Any, backend: SyncBackend) -> None:
        super().__init__(exchange)
        self._backend = backend

    def __iter__(self) -> SyncRun:
        return self

    def __next__(self) -> ChatCompletionChunk:
        value: Any = None
        error: BaseException | None = None
        try:
            while not self.finished:
                op = self._step(value, error)
                value, error = None, None
                kind = type(op)
                if kind is ChatCompletionChunk:  # most of what an exchange yields
                    return op  # type: ignore[no-any-return]
                try:
                    if kind is Read:
                        value = op.stream.read(op.timeout, op.on_timeout)
                    elif kind is Write:
                        op.stream.write(op.data, op.timeout, op.on_timeout)
                    elif kind is Connect:
                        value = self._backend.connect(op)
                    elif kind is Poll:
                        value = op.stream.is_readable()
                    elif kind is Close:
                        op.stream.close()
                    elif kind is Sleep:
                        self._backend.sleep(op.seconds)
                    elif kind is StartTLS:  # the rest: through a proxy only
                        value = self._backend.start_tls(op)
                    elif kind is Resolve:
                        value = self._backend.resolve(op)
                    elif op is not None:  # a chunk of the caller's own chunk_type
                        return op  # type: ignore[no-any-return]
                except PuraiError as exc:
                    error = exc
        except BaseException:
            self.close()
            raise
        raise StopIteration

    def run_to_end(self) -> None:
        """Drive the exchange to its end, dropping the chunks."""
        for _ in self:
            pass

    def close(self) -> None:
        """End the exchange now; close its connection if it is still using one."""
        self.finished = True
        self._gen.close()
        connection, self.exchange.connection = self.exchange.connection, None
        if connection is not None:
            connection.stream.close()


class AsyncRun(_Run):
    """Drives an exchange with async I/O; ``async for`` it for the chunks."""

    def __init__(self, exchange: Any, backend: AsyncBackend) -> None:
        super().__init__(exchange)
        self._backend = backend

    def __aiter__(self) -> AsyncRun:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        value: Any = None
        error: BaseException | None = None
        try:
            while not self.finished:
                op = self._step(value, error)
                value, error = None, None
                kind = type(op)
                if kind is ChatCompletionChunk:  # most of what an exchange yields
                    return op  # type: ignore[no-any-return]
                try:
                    if kind is Read:
                        value = await op.stream.read(op.timeout, op.on_timeout)
                    elif kind is Write:
                        await op.stream.write(op.data, op.timeout, op.on_timeout)
                    elif kind is Connect:
                        value = await self._backend.connect(op)
                    elif kind is Poll:
                        value = op.stream.is_readable()  # answers at once: no await
                    elif kind is Close:
                        await op.stream.aclose()
                    elif kind is Sleep:
                        await self._backend.sleep(op.seconds)
                    elif kind is StartTLS:  # the rest: through a proxy only
                        value = await self._backend.start_tls(op)
                    elif kind is Resolve:
                        value = await self._backend.resolve(op)
                    elif op is not None:  # a chunk of the caller's own chunk_type
                        return op  # type: ignore[no-any-return]
                except PuraiError as exc:
                    error = exc
        except BaseException:  # cancellation too: the connection must not leak
            await self.aclose()
            raise
        raise StopAsyncIteration

    async def run_to_end(self) -> None:
        """Drive the exchange to its end, dropping the chunks."""
        async for _ in self:
            pass

    async def aclose(self) -> None:
        """End the exchange now; close its connection if it is still using one.

        The close is forceful and shielded from cancellation, so it completes even
        when the caller was cancelled (a graceful TLS close could wait on the peer).
        """
        self.finished = True
        self._gen.close()
        connection, self.exchange.connection = self.exchange.connection, None
        if connection is not None:
            await connection.stream.abort()
