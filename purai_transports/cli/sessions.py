"""One client for the length of a ``purai chat``, whichever transport it uses.

Every turn of a conversation goes through the same client, so its connection is
reused. The terminal stays in the main thread: the blocking client runs there, and
an async client runs in an event loop thread of its own (an anyio blocking portal),
which the main thread waits on. Ctrl-C is delivered to the main thread either way,
so it stops a reply the same way under every transport: the blocking client's read
is interrupted, an async reply's task is cancelled, and the stream closes its
connection in both.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from .printer import ReplyPrinter

if TYPE_CHECKING:  # anyio is imported only when an async client is used
    from anyio.from_thread import BlockingPortal

__all__ = ["ChatSession", "open_session"]


class ChatSession(Protocol):
    def reply(self, fields: dict[str, Any], printer: ReplyPrinter) -> None:
        """Send one request (``ChatRequest`` fields) and print its reply as it comes."""


@contextlib.contextmanager
def open_session(
    transport: str, base_url: str, options: dict[str, Any], *, path: str | None, stream: bool
) -> Iterator[ChatSession]:
    """A session on the ``"blocking"``, ``"asyncio"`` or ``"trio"`` client,
    made with ``options``; closed, with its connections, on the way out."""
    if transport == "blocking":
        from ..blocking import Client

        with Client(base_url, **options) as client:
            yield _BlockingSession(client, path, stream)
        return
    import anyio.from_thread

    client_class: Any
    if transport == "trio":
        from ..trio import TrioClient as client_class
    else:
        from ..anyio import AsyncClient as client_class
    with (
        anyio.from_thread.start_blocking_portal(transport) as portal,
        portal.wrap_async_context_manager(client_class(base_url, **options)) as client,
    ):
        yield _AsyncSession(portal, client, path, stream)


class _BlockingSession:
    def __init__(self, client: Any, path: str | None, stream: bool) -> None:
        self._client = client
        self._path = path
        self._stream = stream

    def reply(self, fields: dict[str, Any], printer: ReplyPrinter) -> None:
        if not self._stream:
            printer.completion(self._client.complete(path=self._path, **fields))
            return
        with self._client.stream(path=self._path, **fields) as chunks:
            for chunk in chunks:
                printer.chunk(chunk)


class _AsyncSession:
    def __init__(self, portal: BlockingPortal, client: Any, path: str | None, stream: bool) -> None:
        self._portal = portal
        self._client = client
        self._path = path
        self._stream = stream

    def reply(self, fields: dict[str, Any], printer: ReplyPrinter) -> None:
        finished = threading.Event()
        future = self._portal.start_task_soon(self._reply, fields, printer, finished)
        try:
            future.result()
        except KeyboardInterrupt:
            # Cancelling the future cancels the task; wait until it has closed its
            # stream, so that nothing more is printed once the reply is stopped.
            future.cancel()
            finished.wait()
            raise

    async def _reply(
        self, fields: dict[str, Any], printer: ReplyPrinter, finished: threading.Event
    ) -> None:
        try:
            if not self._stream:
                printer.completion(await self._client.complete(path=self._path, **fields))
                return
            async with self._client.stream(path=self._path, **fields) as chunks:
                async for chunk in chunks:
                    printer.chunk(chunk)
        finally:
            finished.set()
