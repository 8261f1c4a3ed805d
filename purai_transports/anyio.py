"""``AsyncClient``: the async client on anyio, for asyncio and trio applications alike.

```python
from purai_transports.anyio import AsyncClient

async with AsyncClient("http://127.0.0.1:8000") as client:
    async with client.stream(model="gpt-3.5-turbo", messages=[...]) as s:
        async for chunk in s:
            print(chunk.text, end="", flush=True)
```

The client logic is in :mod:`purai_transports._core`; the bytes move through
:mod:`purai_transports._backends.anyio`.
"""

from __future__ import annotations

from typing import Any

import anyio

from ._backends.anyio import AnyioBackend
from ._core.async_clients import AsyncChunkStream, AsyncClientBase

__all__ = ["AsyncChunkStream", "AsyncClient"]


class AsyncClient(AsyncClientBase):
    __doc__ = AsyncClientBase.__doc__ or ""

    def _make_backend(self, verify: Any) -> AnyioBackend:
        return AnyioBackend(verify)

    def _make_slots(self, n: int) -> anyio.Semaphore:
        return anyio.Semaphore(n)
