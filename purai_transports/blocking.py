"""``Client``: blocking calls for scripts, on stdlib sockets.

```python
from purai_transports.blocking import Client

with Client("http://127.0.0.1:8000") as client:
    with client.stream(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]) as s:
        for chunk in s:
            print(chunk.text, end="", flush=True)
```
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

from purai_proto import ChatCompletion, ChatCompletionChunk, ChatRequest

from ._config import Timeout
from ._exchange import ClientCore, Exchange
from ._request_path import DEFAULT_PATH, default_base_url
from ._runners import SyncRun
from .sockets import SocketBackend

__all__ = ["ChunkStream", "Client"]


class ChunkStream:
    """A reply being streamed: iterate it for :class:`~purai_proto.ChatCompletionChunk`.

    Use it as a context manager, so that leaving early (``break``, an exception)
    closes its connection instead of leaving a half-read reply behind.
    """

    def __init__(self, run: SyncRun) -> None:
        self._run = run
        self._exchange: Exchange = run.exchange

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self._run

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

    def close(self) -> None:
        """Stop reading; closes the connection unless the reply was read to its end."""
        self._run.close()


class Client:
    """A blocking client for a PurAI or OpenAI-compatible server.

    Args:
        base_url: ``http[s]://host[:port][/prefix]``; defaults to the
            ``PURAI_BASE_URL`` environment variable.
        api_key: Sent as ``Authorization: Bearer``; defaults to ``PURAI_API_KEY``.
        timeout: A :class:`~purai_transports.Timeout` (its defaults unless given),
            one number of seconds for connecting, each read, each write and the gap
            between chunks, or ``None`` for no limits at all.
        max_retries: Retries of a failed connection or a 429/502/503/504 reply
            (never once a stream began).
        retry_backoff: The first retry's wait in seconds; each further one doubles
            it, and a ``Retry-After`` asking for longer wins (up to 60 s: a reply
            asking for more is raised at once).
        headers: Extra header fields sent with every request.
        verify: TLS verification: ``True`` (the system's trust store), ``False``
            (none; only for tests), or an ``ssl.SSLContext``.
        max_keepalive: Idle connections kept for reuse.
        keepalive_expiry: Seconds an idle connection is kept.

    Raises:
        LocalProtocolError: A bad argument.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - frozen
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
        max_keepalive: int = 10,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._core = ClientCore(
            default_base_url(base_url),
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=retry_backoff,
            headers=headers,
            max_keepalive=max_keepalive,
            keepalive_expiry=keepalive_expiry,
        )
        self._backend = SocketBackend(verify)

    def __repr__(self) -> str:
        return self._core.describe(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def stream(
        self,
        request: ChatRequest | None = None,
        *,
        path: str = DEFAULT_PATH,
        headers: Mapping[str, str] | None = None,
        accumulate: bool = True,
        **fields: Any,
    ) -> ChunkStream:
        """Send a request with ``stream`` true; return its reply as a :class:`ChunkStream`.

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

        The request is sent when iteration starts. Iterating raises
        :class:`~purai_transports.APIStatusError` for an HTTP error status,
        :class:`~purai_transports.StreamError` for an error object inside the stream,
        and the transport, timeout and protocol errors of
        :mod:`purai_transports`.
        """
        exchange = self._core.exchange(
            request, fields, path=path, stream=True, headers=headers, accumulate=accumulate
        )
        return ChunkStream(SyncRun(exchange, self._backend))

    def complete(
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
        exchange = self._core.exchange(request, fields, path=path, stream=False, headers=headers)
        run = SyncRun(exchange, self._backend)
        run.run_to_end()
        assert exchange.completion is not None
        return exchange.completion

    def close(self) -> None:
        """Close the idle connections; the client cannot be used afterwards."""
        for connection in self._core.drain():
            connection.stream.close()
