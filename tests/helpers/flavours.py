"""Every client flavour behind one blocking face, for the tests that run a case
through each of them: the blocking ``Client``, ``AsyncClient`` on asyncio and on trio,
and the native ``TrioClient``.

An async client runs in an event loop of its own (an anyio blocking portal), so that a
test reads the same whichever flavour it drives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import anyio.from_thread

from purai_proto import PuraiError
from purai_transports.anyio import AsyncClient
from purai_transports.blocking import Client
from purai_transports.trio import TrioClient

# The flavours and the generous limits are the transport tests' own.
from .clients import FLAVOURS, GENEROUS

__all__ = ["FLAVOURS", "Flavoured", "Streamed", "client_of"]


@dataclasses.dataclass
class Streamed:
    """What a stream yielded, what its ``completion`` was after it, and the
    :class:`~purai_proto.PuraiError` that ended it, if one did."""

    chunks: list[Any]
    completion: Any
    error: PuraiError | None


class Flavoured:
    """One client, with blocking methods whatever its flavour."""

    def __init__(self, client: Any, portal: anyio.from_thread.BlockingPortal | None) -> None:
        self.client = client
        self._portal = portal

    def stream(self, **arguments: Any) -> Streamed:
        """Read ``client.stream(**arguments)`` to its end or its error."""
        if self._portal is None:
            return self._stream_blocking(arguments)
        streamed: Streamed = self._portal.call(self._stream_async, arguments)
        return streamed

    def complete(self, **arguments: Any) -> Any:
        return self._call(functools.partial(self.client.complete, **arguments))

    def models(self, **arguments: Any) -> Any:
        return self._call(functools.partial(self.client.models, **arguments))

    def _call(self, call: Any) -> Any:
        return call() if self._portal is None else self._portal.call(call)

    def _stream_blocking(self, arguments: dict[str, Any]) -> Streamed:
        chunks: list[Any] = []
        error = None
        stream = self.client.stream(**arguments)
        try:
            with stream:
                chunks.extend(stream)
        except PuraiError as exc:
            error = exc
        return Streamed(chunks, stream.completion, error)

    async def _stream_async(self, arguments: dict[str, Any]) -> Streamed:
        chunks: list[Any] = []
        error = None
        stream = self.client.stream(**arguments)
        try:
            async with stream:
                async for chunk in stream:
                    chunks.append(chunk)
        except PuraiError as exc:
            error = exc
        return Streamed(chunks, stream.completion, error)


@contextlib.contextmanager
def client_of(flavour: str, base_url: str, **options: Any) -> Iterator[Flavoured]:
    """A client of ``flavour`` (one of :data:`FLAVOURS`), closed at the end.

    ``options`` are the client's; ``timeout`` is generous and ``max_retries`` 0
    unless given.
    """
    options.setdefault("timeout", GENEROUS)
    options.setdefault("max_retries", 0)
    if flavour == "blocking":
        with Client(base_url, **options) as blocking:
            yield Flavoured(blocking, None)
        return
    backend = "asyncio" if flavour == "anyio-asyncio" else "trio"
    with anyio.from_thread.start_blocking_portal(backend) as portal:
        cls = TrioClient if flavour == "trio" else AsyncClient
        # Made in its event loop: an async client's semaphore belongs to one.
        client: Any = portal.call(functools.partial(cls, base_url, **options))
        try:
            yield Flavoured(client, portal)
        finally:
            portal.call(client.aclose)
