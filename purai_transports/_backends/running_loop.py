"""``AsyncClient``'s backend: asyncio's own protocols on asyncio, anyio's streams on trio.

Which loop runs is known only when a connection is opened (a client may be made
before any loop runs), so the choice is made per connection; a stream then carries
its own methods, and the runner never asks again.
"""

from __future__ import annotations

import ssl

import anyio

from .._core.operations import Connect
from .._core.runners import AsyncStream
from .anyio import AnyioBackend
from .asyncio import AsyncioBackend, running_on_asyncio

__all__ = ["RunningLoopBackend"]


class RunningLoopBackend:
    """Connects with :class:`AsyncioBackend` when the running loop is asyncio's, with
    :class:`AnyioBackend` otherwise; each is made on first use."""

    def __init__(self, verify: bool | ssl.SSLContext = True) -> None:
        self._verify = verify
        self._asyncio: AsyncioBackend | None = None
        self._anyio: AnyioBackend | None = None

    async def connect(self, op: Connect) -> AsyncStream:
        """A stream to ``op.origin``, on the running loop's own backend."""
        if running_on_asyncio():
            if self._asyncio is None:
                self._asyncio = AsyncioBackend(self._verify)
            return await self._asyncio.connect(op)
        if self._anyio is None:
            self._anyio = AnyioBackend(self._verify)
        return await self._anyio.connect(op)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries); cancellable."""
        await anyio.sleep(seconds)
