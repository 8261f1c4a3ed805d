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
from typing import TYPE_CHECKING, Any, Generic

from purai_proto import ChatCompletion, ChatCompletionChunk, ChatRequest, HttpParserName, Model

from .client_core import ClientCore, models_of
from .exchange import Exchange
from .requests import QueryArg
from .settings import ClientSettings, TimeoutArg, VerifyArg

if TYPE_CHECKING:
    # With defaults (PEP 696): a stream opened without chunk_type= is typed as one of
    # ChatCompletionChunk, whose completion is a ChatCompletion.
    from typing_extensions import TypeVar

    ChunkT = TypeVar("ChunkT", default=ChatCompletionChunk)
    CompletionT = TypeVar("CompletionT", default=ChatCompletion)
else:
    from typing import TypeVar

    ChunkT = TypeVar("ChunkT")
    CompletionT = TypeVar("CompletionT")

__all__ = [
    "AsyncClosedByWith",
    "ChunkT",
    "ClientBase",
    "ClosedByWith",
    "CompletionT",
    "QueryArg",
    "StreamView",
]

_Self = TypeVar("_Self")  # `with` and `async with` keep the type


class ClientBase:
    """A client for a PurAI or OpenAI-compatible server.

    ``stream()``, ``complete()`` and ``models()`` are written here once. What they
    return differs by flavour (a stream or an async one; a value or a coroutine),
    which Python's types cannot say of a base class: each flavour restates their
    signatures for type checkers with its own return types, and mypy checks that
    they still agree with these.

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
        path: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: QueryArg | None = None,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accumulate: bool = True,
        chunk_type: Any = ChatCompletionChunk,
        completion_type: Any = ChatCompletion,
        **fields: Any,
    ) -> Any:
        """Send a request with ``stream`` true; return its reply as a stream of
        :class:`~purai_proto.ChatCompletionChunk` (or of ``chunk_type``).

        Args:
            request: A :class:`~purai_proto.ChatRequest`; fields given as keywords
                replace its own.
            path: The endpoint, after the base URL's path. By default
                ``/chat/completions`` under a base URL ending in ``/v1`` (OpenAI's
                convention), PurAI's ``/openai/chat/completions`` under any other.
            extra_headers: Header fields for this request, over the client's
                ``headers``.
            extra_query: Query parameters for this request (a mapping or ``(name,
                value)`` pairs), percent-encoded.
            extra_body: Fields merged into the JSON body, over the typed ones: for
                what this library does not type.
            headers: The same as ``extra_headers`` (which wins where both name a
                field), kept for code written before it.
            accumulate: Fold the chunks into the stream's ``completion`` as they
                pass. ``False`` keeps memory constant however long the stream.
            chunk_type: What each chunk is decoded into:
                :class:`~purai_proto.ChatCompletionChunk`, a subclass of it that adds
                a server's own fields, or ``dict`` (or ``typing.Any``) for plain
                dicts with every field the server sent.
            completion_type: What the stream's ``completion`` is built as:
                :class:`~purai_proto.ChatCompletion`, a subclass, or ``dict``.
            **fields: Request fields (``model``, ``messages`` as
                :class:`~purai_proto.Message` objects or dicts, ``temperature``...).

        Returns:
            From the blocking client a :class:`~purai_transports.blocking.ChunkStream`
            (``with client.stream(...) as s: for chunk in s``), from the async ones an
            :class:`~purai_transports.anyio.AsyncChunkStream` (``async with
            client.stream(...) as s: async for chunk in s``).

        Raises:
            LocalProtocolError: An unknown or invalid field or type, or the client is
                closed.

        The request is sent when iteration starts. Iterating raises
        :class:`~purai_transports.APIStatusError` for an HTTP error status,
        :class:`~purai_transports.StreamError` for an error object inside the stream,
        and the transport, timeout and protocol errors of
        :mod:`purai_transports`.
        """
        exchange = self._core.exchange(
            request,
            _with_extra_body(fields, extra_body),
            path=path,
            stream=True,
            headers=_merged(headers, extra_headers),
            query=extra_query,
            accumulate=accumulate,
            chunk_type=chunk_type,
            completion_type=completion_type,
        )
        return self._open(exchange)

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
        completion_type: Any = ChatCompletion,
        **fields: Any,
    ) -> Any:
        """Send a request and return the whole reply.

        ``stream`` is false unless given; a streamed reply is accumulated. Arguments
        and errors are as for :meth:`stream`.

        Returns:
            The :class:`~purai_proto.ChatCompletion` (or ``completion_type``); from
            the async clients, a coroutine to ``await`` for it.
        """
        return self._complete(
            lambda: self._core.exchange(
                request,
                _with_extra_body(fields, extra_body),
                path=path,
                stream=False,
                headers=_merged(headers, extra_headers),
                query=extra_query,
                chunk_type=chunk_type,
                completion_type=completion_type,
            ),
            _completion_of,
        )

    def models(
        self,
        *,
        path: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: QueryArg | None = None,
    ) -> Any:
        """List the models the server offers: ``GET {base_url}/models``.

        Args:
            path: The endpoint, after the base URL's path. By default ``/models``
                under a base URL ending in ``/v1``, PurAI's ``/openai/models`` under
                any other.
            extra_headers: Header fields for this request, over the client's.
            extra_query: Query parameters for this request.

        Returns:
            A list of :class:`~purai_proto.Model`, in the server's order; from the
            async clients, a coroutine to ``await`` for it.

        Raises:
            APIStatusError: An HTTP error status; and the errors of :meth:`stream`.
        """
        return self._complete(
            lambda: self._core.models_exchange(path=path, headers=extra_headers, query=extra_query),
            _models_of,
        )

    # -- what each flavour says ----------------------------------------------------------

    def _start(self, settings: ClientSettings) -> None:
        """Make the backend (and what else the flavour needs) from the settings."""
        raise NotImplementedError

    def _open(self, exchange: Exchange) -> Any:
        """A stream that runs ``exchange`` as it is iterated."""
        raise NotImplementedError

    def _complete(self, prepare: Callable[[], Exchange], result: Callable[[Exchange], Any]) -> Any:
        """Run the exchange ``prepare()`` makes to its end; ``result(exchange)`` then.

        The exchange is made inside, so that an async client raises a bad argument
        where the caller awaits, as an ``async def`` would.
        """
        raise NotImplementedError


def _merged(
    headers: Mapping[str, str] | None, extra_headers: Mapping[str, str] | None
) -> Mapping[str, str] | None:
    if headers and extra_headers:
        return {**headers, **extra_headers}
    return extra_headers or headers


def _with_extra_body(
    fields: dict[str, Any], extra_body: Mapping[str, Any] | None
) -> dict[str, Any]:
    # A field of ChatRequest like the others; a keyword of its own only so that it shows
    # in the signature, as in openai-python's.
    if extra_body is not None:
        fields["extra_body"] = extra_body
    return fields


def _completion_of(exchange: Exchange) -> Any:
    assert exchange.completion is not None
    return exchange.completion


def _models_of(exchange: Exchange) -> list[Model]:
    assert exchange.completion is not None
    return models_of(exchange.completion)


class StreamView(Generic[ChunkT, CompletionT]):
    """What a stream shows of its reply while and after it is read."""

    _exchange: Exchange

    @property
    def completion(self) -> CompletionT:
        """The reply so far, folded into one :class:`~purai_proto.ChatCompletion` (or
        the stream's ``completion_type``); the whole reply once the iteration ended.

        Raises:
            LocalProtocolError: The stream was opened with ``accumulate=False``.
        """
        return self._exchange.completion_so_far()  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        """The text of the first choice so far."""
        completion: Any = self._exchange.completion_so_far()
        if isinstance(completion, dict):
            return _text_of_dict(completion)
        return completion.text  # type: ignore[no-any-return]


def _text_of_dict(completion: dict[str, Any]) -> str:
    choices = completion.get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content") or ""


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
