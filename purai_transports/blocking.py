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

from ._backends.sockets import SocketBackend
from ._core.clients import ClientBase, StreamView
from ._core.paths import DEFAULT_PATH
from ._core.runners import SyncRun

__all__ = ["ChunkStream", "Client"]


class ChunkStream(StreamView):
    """A reply being streamed: iterate it for :class:`~purai_proto.ChatCompletionChunk`.

    Use it as a context manager, so that leaving early (``break``, an exception)
    closes its connection instead of leaving a half-read reply behind.
    """

    def __init__(self, run: SyncRun) -> None:
        self._run = run
        self._exchange = run.exchange

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

    def close(self) -> None:
        """Stop reading; closes the connection unless the reply was read to its end."""
        self._run.close()


class Client(ClientBase):
    __doc__ = (ClientBase.__doc__ or "").replace("A client", "A blocking client", 1)

    def _make_backend(self, verify: bool | ssl.SSLContext) -> SocketBackend:
        return SocketBackend(verify)

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
        exchange = self._exchange(
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
        exchange = self._exchange(request, fields, path=path, stream=False, headers=headers)
        run = SyncRun(exchange, self._backend)
        run.run_to_end()
        assert exchange.completion is not None
        return exchange.completion

    def close(self) -> None:
        """Close the idle connections; the client cannot be used afterwards."""
        for connection in self._core.pool.drain():
            connection.stream.close()
