"""The async client, once, for the anyio and the trio backends.

:class:`~purai_transports.anyio.AsyncClient` and
:class:`~purai_transports.trio.TrioClient` are this class with a backend; the logic is
in :mod:`purai_transports._core.exchange` and the loop in :mod:`purai_transports._core.runners`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    HttpParserName,
)

from .client_core import check_count
from .clients import ClientBase, StreamView
from .paths import DEFAULT_PATH
from .runners import AsyncBackend, AsyncRun
from .settings import Timeout

__all__ = ["AsyncChunkStream", "AsyncClientBase"]


_Client = TypeVar("_Client", bound="AsyncClientBase")  # `async with` keeps the type


class _Slots(Protocol):
    """A semaphore: anyio's or trio's."""

    def acquire(self) -> Awaitable[None]: ...
    def release(self) -> None: ...


class AsyncChunkStream(StreamView):
    """A reply being streamed: ``async for`` it for
    :class:`~purai_proto.ChatCompletionChunk`.

    Use it as an async context manager, so that leaving early (``break``, an
    exception, cancellation) closes its connection.
    """

    def __init__(self, run: AsyncRun, slots: _Slots) -> None:
        self._run = run
        self._exchange = run.exchange
        self._slots = slots
        self._holding = False  # one of the client's max_connections slots

    async def __aenter__(self) -> AsyncChunkStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncChunkStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if not self._holding and not self._run.finished:
            await self._slots.acquire()
            self._holding = True
        try:
            return await self._run.__anext__()
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


class AsyncClientBase(ClientBase):
    __doc__ = (
        (ClientBase.__doc__ or "")
        .replace("A client", "An async client", 1)
        .replace(
            "        max_keepalive:",
            "        max_connections: Most requests in flight at once; more wait for a slot.\n"
            "        max_keepalive:",
            1,
        )
    )

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - frozen
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        verify: Any = True,
        max_connections: int = 100,
        max_keepalive: int = 10,
        keepalive_expiry: float = 5.0,
        resend_unanswered: bool = False,
        http_parser: HttpParserName = "auto",
    ) -> None:
        check_count("max_connections", max_connections, minimum=1)
        super().__init__(
            base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            headers=headers,
            verify=verify,
            max_keepalive=max_keepalive,
            keepalive_expiry=keepalive_expiry,
            resend_unanswered=resend_unanswered,
            http_parser=http_parser,
        )
        self._slots = self._make_slots(max_connections)

    def _make_backend(self, verify: Any) -> AsyncBackend:
        raise NotImplementedError

    def _make_slots(self, n: int) -> _Slots:
        raise NotImplementedError

    async def __aenter__(self: _Client) -> _Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def stream(
        self,
        request: ChatRequest | None = None,
        *,
        path: str = DEFAULT_PATH,
        headers: Mapping[str, str] | None = None,
        accumulate: bool = True,
        **fields: Any,
    ) -> AsyncChunkStream:
        """Send a request with ``stream`` true; return its reply as an
        :class:`AsyncChunkStream` (``async with client.stream(...) as s: async for
        chunk in s``).

        Args:
            request: A :class:`~purai_proto.ChatRequest`; fields given as keywords
                replace its own.
            path: The endpoint, after the base URL's path.
            headers: Extra header fields for this request.
            accumulate: Fold the chunks into :attr:`~ChunkStream.completion` as they
                pass. ``False`` keeps memory constant however long the stream.
            **fields: Request fields (``model``, ``messages`` as
                :class:`~purai_proto.Message` objects or dicts, ``temperature``...).

        Raises:
            LocalProtocolError: An unknown or invalid field, or the client is closed.

        The request is sent when iteration starts; iterating raises the errors
        :meth:`purai_transports.blocking.Client.stream` describes.
        """
        exchange = self._exchange(
            request, fields, path=path, stream=True, headers=headers, accumulate=accumulate
        )
        return AsyncChunkStream(AsyncRun(exchange, self._backend), self._slots)

    async def complete(
        self,
        request: ChatRequest | None = None,
        *,
        path: str = DEFAULT_PATH,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> ChatCompletion:
        """Send a request and return the whole reply.

        ``stream`` is false unless given; a streamed reply is accumulated. Arguments
        and errors are as for :meth:`stream`.
        """
        exchange = self._exchange(request, fields, path=path, stream=False, headers=headers)
        async with AsyncChunkStream(AsyncRun(exchange, self._backend), self._slots) as stream:
            async for _ in stream:
                pass
        assert exchange.completion is not None
        return exchange.completion

    async def aclose(self) -> None:
        """Close the idle connections; the client cannot be used afterwards."""
        for connection in self._core.pool.drain():
            await connection.stream.aclose()
