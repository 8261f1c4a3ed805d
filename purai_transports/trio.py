"""``TrioClient``: the async client on native trio streams, for trio applications.

```python
import trio

from purai_transports.trio import TrioClient


async def main() -> None:
    async with TrioClient("http://127.0.0.1:8000") as client:
        async with client.stream(model="gpt-3.5-turbo", messages=[...]) as s:
            async for chunk in s:
                print(chunk.text, end="", flush=True)


trio.run(main)
```

It is :class:`~purai_transports.anyio.AsyncClient` on
:mod:`purai_transports._backends.trio`, which calls trio itself instead of anyio."""

from __future__ import annotations

import trio

from ._backends.trio import TrioBackend
from ._core.async_clients import AsyncChunkStream, AsyncClientBase
from ._core.settings import ClientSettings

__all__ = ["AsyncChunkStream", "TrioClient"]


class TrioClient(AsyncClientBase):
    """The async client on trio's own streams, for trio applications: fewer layers
    per read than :class:`~purai_transports.anyio.AsyncClient` running on trio, and
    the same keywords.
    """

    def _make_backend(self, settings: ClientSettings) -> TrioBackend:
        return TrioBackend(settings.verify, settings.trust_env)

    def _make_slots(self, n: int) -> trio.Semaphore:
        return trio.Semaphore(n)
