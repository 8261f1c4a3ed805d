"""The async client, once, for the anyio and the trio backends.

:class:`~purai_transports.anyio.AsyncClient` and
:class:`~purai_transports.trio.TrioClient` are this class with a backend; the logic is
in :mod:`purai_transports._core.exchange` and the loop in :mod:`purai_transports._core.runners`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from purai_proto import ChatCompletion, ChatCompletionChunk, ChatRequest, Model

from .clients import (
    AsyncClosedByWith,
    ChunkT,
    ClientBase,
    CompletionT,
    QueryArg,
    StreamView,
)
from .exchange import Exchange
from .runners import AsyncBackend, AsyncRun
from .settings import DEFAULT_MAX_CONNECTIONS, ClientSettings

__all__ = ["AsyncChunkStream", "AsyncClientBase"]


class _Slots(Protocol):
    """A semaphore: anyio's or trio's."""

    def acquire(self) -> Awaitable[None]: ...
    def release(self) -> None: ...


class AsyncChunkStream(StreamView[ChunkT, CompletionT], AsyncClosedByWith):
    """A reply being streamed: ``async for`` it for
    :class:`~purai_proto.ChatCompletionChunk` (or the ``chunk_type`` it was opened
    with).

    Use it as an async context manager, so that leaving early (``break``, an
    exception, cancellation) closes its connection.
    """

    def __init__(self, run: AsyncRun, slots: _Slots) -> None:
        self._run = run
        self._exchange = run.exchange
        self._slots = slots
        self._holding = False  # one of the client's max_connections slots

    def __aiter__(self) -> AsyncChunkStream[ChunkT, CompletionT]:
        return self

    async def __anext__(self) -> ChunkT:
        if not self._holding and not self._run.finished:
            await self._slots.acquire()
            self._holding = True
        try:
            return await self._run.__anext__()  # type: ignore[return-value]
        except BaseException:  # the end (StopAsyncIteration) too
            self._release()
            raise

    async def aclose(self) -> None:
        """Stop reading; closes the connection unless the reply was read to its end."""
        try:
            await self._run.aclose()
        finally:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._slots.release()


class AsyncClientBase(ClientBase, AsyncClosedByWith):
    """What the async clients add to :class:`~.clients.ClientBase`: the slots of
    ``max_connections``, ``async with`` and :meth:`aclose`; each flavour gives its
    backend and its semaphore."""

    _backend: AsyncBackend
    _slots: _Slots

    def _start(self, settings: ClientSettings) -> None:
        self._backend = self._make_backend(settings)
        self._slots = self._make_slots(settings.max_connections or DEFAULT_MAX_CONNECTIONS)

    def _make_backend(self, settings: ClientSettings) -> AsyncBackend:
        raise NotImplementedError

    def _make_slots(self, n: int) -> _Slots:
        raise NotImplementedError

    if TYPE_CHECKING:  # ClientBase's signatures, with what these flavours return

        def stream(
            self,
            request: ChatRequest | None = None,
            *,
            path: str | None = None,
            extra_headers: Mapping[str, str] | None = None,
            extra_query: QueryArg | None = None,
            extra_body: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            accumulate: bool = True,
            chunk_type: type[ChunkT] = ChatCompletionChunk,  # type: ignore[assignment]
            completion_type: type[CompletionT] = ChatCompletion,  # type: ignore[assignment]
            **fields: Any,
        ) -> AsyncChunkStream[ChunkT, CompletionT]: ...

        def complete(
            self,
            request: ChatRequest | None = None,
            *,
            path: str | None = None,
            extra_headers: Mapping[str, str] | None = None,
            extra_query: QueryArg | None = None,
            extra_body: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            chunk_type: Any = ChatCompletionChunk,
            completion_type: type[CompletionT] = ChatCompletion,  # type: ignore[assignment]
            **fields: Any,
        ) -> Coroutine[Any, Any, CompletionT]: ...

        def models(
            self,
            *,
            path: str | None = None,
            extra_headers: Mapping[str, str] | None = None,
            extra_query: QueryArg | None = None,
        ) -> Coroutine[Any, Any, list[Model]]: ...

    def _open(self, exchange: Exchange) -> AsyncChunkStream[Any, Any]:
        return AsyncChunkStream(AsyncRun(exchange, self._backend), self._slots)

    async def _complete(
        self, prepare: Callable[[], Exchange], result: Callable[[Exchange], Any]
    ) -> Any:
        exchange = prepare()
        async with self._open(exchange) as stream:
            async for _ in stream:
                pass
        return result(exchange)

    async def aclose(self) -> None:
        """Close the idle connections; the client cannot be used afterwards."""
        for connection in self._core.pool.drain():
            await connection.stream.aclose()
