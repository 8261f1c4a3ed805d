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

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    LocalProtocolError,
    Model,
)

from ._backends.sockets import SocketBackend
from ._core.clients import (
    ChunkT,
    ClientBase,
    ClosedByWith,
    CompletionT,
    QueryArg,
    StreamView,
)
from ._core.exchange import Exchange
from ._core.runners import SyncRun
from ._core.settings import ClientSettings

__all__ = ["ChunkStream", "Client"]


class ChunkStream(StreamView[ChunkT, CompletionT], ClosedByWith):
    """A reply being streamed: iterate it for :class:`~purai_proto.ChatCompletionChunk`
    (or the ``chunk_type`` it was opened with).

    Use it as a context manager, so that leaving early (``break``, an exception)
    closes its connection instead of leaving a half-read reply behind.
    """

    def __init__(self, run: SyncRun) -> None:
        self._run = run
        self._exchange = run.exchange

    def __iter__(self) -> Iterator[ChunkT]:
        return self._run  # type: ignore[return-value]

    def close(self) -> None:
        """Stop reading; closes the connection unless the reply was read to its end."""
        self._run.close()


class Client(ClientBase, ClosedByWith):
    """A blocking client for a PurAI or OpenAI-compatible server, on stdlib sockets.

    Args:
        base_url: ``http[s]://host[:port][/prefix]``; defaults to the
            ``PURAI_BASE_URL`` environment variable.

    The other keywords are the settings :class:`~purai_transports.ClientSettings`
    describes, with its defaults, but for ``max_connections``: each call holds one
    connection while it runs.

    Raises:
        LocalProtocolError: A bad argument, before any connection is made.
    """

    def _start(self, settings: ClientSettings) -> None:
        if settings.max_connections is not None:
            raise LocalProtocolError(
                "the blocking client takes no max_connections: each call holds one "
                "connection while it runs"
            )
        self._backend = SocketBackend(settings.verify, settings.trust_env)

    if TYPE_CHECKING:  # ClientBase's signatures, with what this flavour returns

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
        ) -> ChunkStream[ChunkT, CompletionT]: ...

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
        ) -> CompletionT: ...

        def models(
            self,
            *,
            path: str | None = None,
            extra_headers: Mapping[str, str] | None = None,
            extra_query: QueryArg | None = None,
        ) -> list[Model]: ...

    def _open(self, exchange: Exchange) -> ChunkStream[Any, Any]:
        return ChunkStream(SyncRun(exchange, self._backend))

    def _complete(self, prepare: Callable[[], Exchange], result: Callable[[Exchange], Any]) -> Any:
        exchange = prepare()
        SyncRun(exchange, self._backend).run_to_end()
        return result(exchange)

    def close(self) -> None:
        """Close the idle connections; the client cannot be used afterwards."""
        for connection in self._core.pool.drain():
            connection.stream.close()
