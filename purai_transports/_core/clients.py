"""What every public client shares: its keywords, ``stream()``, ``complete()``, and
what a stream shows.

:class:`ClientBase` is written once for the blocking and the async clients. Each
flavour only says how its backend is made (:meth:`ClientBase._start`), how a stream is
opened on an exchange (:meth:`ClientBase._open`) and how an exchange is run to its end
(:meth:`ClientBase._complete`). The client logic itself is in
:mod:`purai_transports._core.exchange`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from purai_proto import ChatCompletion, ChatRequest, HttpParserName

from .client_core import ClientCore
from .exchange import Exchange
from .paths import DEFAULT_PATH
from .settings import ClientSettings, TimeoutArg, VerifyArg

__all__ = ["AsyncClosedByWith", "ClientBase", "ClosedByWith", "StreamView"]

#: What ``stream()`` returns: a ChunkStream or an AsyncChunkStream.
StreamT = TypeVar("StreamT")
#: What ``complete()`` returns: a ChatCompletion, or a coroutine that returns one.
ReplyT = TypeVar("ReplyT")
_Self = TypeVar("_Self")  # `with` and `async with` keep the type


class ClientBase(Generic[StreamT, ReplyT]):
    """A client for a PurAI or OpenAI-compatible server.

    Args:
        base_url: ``http[s]://host[:port][/prefix]``; defaults to the
            ``PURAI_BASE_URL`` environment variable.

    The other keywords are the settings that :class:`~purai_transports.ClientSettings`
    describes, with its defaults.

    Raises:
        LocalProtocolError: A bad argument, before any connection is made.
    """

    # One signature for every client, so that an IDE completes the keywords and mypy
    # catches a misspelt one: the fields of ClientSettings, in its order and with its
    # defaults (tests/test_public_api.py checks that they agree).
    def __init__(
        self,
        base_url: str | None = ClientSettings.base_url,
        *,
        api_key: str | None = ClientSettings.api_key,
        timeout: TimeoutArg = ClientSettings.timeout,
        max_retries: int = ClientSettings.max_retries,
        retry_backoff: float = ClientSettings.retry_backoff,
        headers: Mapping[str, str] | None = ClientSettings.headers,
        verify: VerifyArg = ClientSettings.verify,
        proxy: str | None = ClientSettings.proxy,
        trust_env: bool = ClientSettings.trust_env,
        max_connections: int | None = ClientSettings.max_connections,
        max_keepalive: int = ClientSettings.max_keepalive,
        keepalive_expiry: float = ClientSettings.keepalive_expiry,
        resend_unanswered: bool = ClientSettings.resend_unanswered,
        http_parser: HttpParserName = ClientSettings.http_parser,
    ) -> None:
        settings = ClientSettings(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            headers=headers,
            verify=verify,
            proxy=proxy,
            trust_env=trust_env,
            max_connections=max_connections,
            max_keepalive=max_keepalive,
            keepalive_expiry=keepalive_expiry,
            resend_unanswered=resend_unanswered,
            http_parser=http_parser,
        )
        self._core = ClientCore(settings)
        self._start(settings)

    def __repr__(self) -> str:
        return self._core.describe(self)

    def stream(
        self,
        request: ChatRequest | None = None,
        *,
        path: str = DEFAULT_PATH,
        headers: Mapping[str, str] | None = None,
        accumulate: bool = True,
        **fields: Any,
    ) -> StreamT:
        """Send a request with ``stream`` true; return its reply as a stream of
        :class:`~purai_proto.ChatCompletionChunk`.

        Args:
            request: A :class:`~purai_proto.ChatRequest`; fields given as keywords
                replace its own.
            path: The endpoint, after the base URL's path.
            headers: Extra header fields for this request.
            accumulate: Fold the chunks into the stream's ``completion`` as they
                pass. ``False`` keeps memory constant however long the stream.
            **fields: Request fields (``model``, ``messages`` as
                :class:`~purai_proto.Message` objects or dicts, ``temperature``...).

        Returns:
            From the blocking client a :class:`~purai_transports.blocking.ChunkStream`
            (``with client.stream(...) as s: for chunk in s``), from the async ones an
            :class:`~purai_transports.anyio.AsyncChunkStream` (``async with
            client.stream(...) as s: async for chunk in s``).

        Raises:
            LocalProtocolError: An unknown or invalid field, or the client is closed.

        The request is sent when iteration starts. Iterating raises
        :class:`~purai_transports.APIStatusError` for an HTTP error status,
        :class:`~purai_transports.StreamError` for an error object inside the stream,
        and the transport, timeout and protocol errors of
        :mod:`purai_transports`.
        """
        exchange = self._core.exchange(
            request, fields, path=path, stream=True, headers=headers, accumulate=accumulate
        )
        return self._open(exchange)

    def complete(
        self,
        request: ChatRequest | None = None,
        *,
        path: str = DEFAULT_PATH,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> ReplyT:
        """Send a request and return the whole reply.

        ``stream`` is false unless given; a streamed reply is accumulated. Arguments
        and errors are as for :meth:`stream`.

        Returns:
            The :class:`~purai_proto.ChatCompletion`; from the async clients, a
            coroutine to ``await`` for it.
        """
        return self._complete(
            lambda: self._core.exchange(request, fields, path=path, stream=False, headers=headers)
        )

    # -- what each flavour says ----------------------------------------------------------

    def _start(self, settings: ClientSettings) -> None:
        """Make the backend (and what else the flavour needs) from the settings."""
        raise NotImplementedError

    def _open(self, exchange: Exchange) -> StreamT:
        """A stream that runs ``exchange`` as it is iterated."""
        raise NotImplementedError

    def _complete(self, prepare: Callable[[], Exchange]) -> ReplyT:
        """Run the exchange ``prepare()`` makes to its end; its completion.

        The exchange is made inside, so that an async client raises a bad argument
        where the caller awaits, as an ``async def`` would.
        """
        raise NotImplementedError


class StreamView:
    """What a stream shows of its reply while and after it is read."""

    _exchange: Exchange

    @property
    def completion(self) -> ChatCompletion:
        """The reply so far, folded into one :class:`~purai_proto.ChatCompletion`; the
        whole reply once the iteration ended.

        Raises:
            LocalProtocolError: The stream was opened with ``accumulate=False``.
        """
        return self._exchange.completion_so_far()

    @property
    def text(self) -> str:
        """The text of the first choice so far."""
        return self.completion.text


class ClosedByWith:
    """``with thing:`` gives ``thing`` and calls its ``close()`` at the end."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosedByWith:
    """``async with thing:`` gives ``thing`` and awaits its ``aclose()`` at the end."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
