"""``AsyncClient``: the async client on anyio, for asyncio and trio applications alike.

```python
import asyncio

from purai_transports.anyio import AsyncClient


async def main() -> None:
    async with AsyncClient("http://127.0.0.1:8000") as client:
        reply = await client.complete(model="gpt-3.5-turbo", messages=[...])
        print(reply.text)


asyncio.run(main())  # or trio.run(main): the same client runs on both
```

The client logic is in :mod:`purai_transports._core`; the bytes move through
:mod:`purai_transports._backends.asyncio` when the running loop is asyncio's, and
:mod:`purai_transports._backends.anyio` otherwise (trio)."""

from __future__ import annotations

# Named here, not looked up as anyio.Semaphore when a client is made: anyio imports
# its synchronization module on first use, 3 ms that belong to importing this module
# (130 ms in all), not to making the first client.
from anyio import Semaphore

from ._backends.running_loop import RunningLoopBackend
from ._core.async_clients import AsyncChunkStream, AsyncClientBase
from ._core.settings import ClientSettings

__all__ = ["AsyncChunkStream", "AsyncClient"]


class AsyncClient(AsyncClientBase):
    """An async client for a PurAI or OpenAI-compatible server, on anyio: the same
    code runs on asyncio and on trio.

    It takes the keywords of :class:`~purai_transports.blocking.Client` and
    ``max_connections``: the settings :class:`~purai_transports.ClientSettings`
    describes, with its defaults. A bad one raises
    :class:`~purai_proto.LocalProtocolError` before any connection is made.
    """

    def _make_backend(self, settings: ClientSettings) -> RunningLoopBackend:
        return RunningLoopBackend(
            settings.verify, settings.trust_env, proxied=settings.via is not None
        )

    def _make_slots(self, n: int) -> Semaphore:
        return Semaphore(n)
