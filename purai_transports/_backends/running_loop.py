"""``AsyncClient``'s backend: asyncio's own protocols on asyncio, trio's on trio.

Which loop runs is known only when a connection is opened (a client may be made
before any loop runs), so the choice is made per connection; a stream then carries
its own methods, and the runner never asks again. On trio, ``AsyncClient`` reads as
``TrioClient`` does (:class:`~.trio.TrioBackend`), so that it costs the same per
chunk. Through a proxy on asyncio, anyio's backend is used: the tunnel's TLS
(``start_tls``) is not written for asyncio's protocols.
"""

from __future__ import annotations

import anyio

from .._core.operations import Connect, Resolve, StartTLS
from .._core.runners import AsyncStream
from .._core.settings import VerifyArg
from .anyio import AnyioBackend
from .asyncio import AsyncioBackend, running_on_asyncio
from .trio import TrioBackend

__all__ = ["RunningLoopBackend"]


class RunningLoopBackend:
    """Connects with :class:`AsyncioBackend` when the running loop is asyncio's (and no
    proxy is in the way; :class:`AnyioBackend` when one is), with :class:`TrioBackend`
    on trio; each is made on first use.

    Args:
        verify: As the clients take it.
        trust_env: Whether ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` count.
        proxied: Requests go through a proxy.
    """

    def __init__(
        self, verify: VerifyArg = True, trust_env: bool = True, *, proxied: bool = False
    ) -> None:
        self._verify = verify
        self._trust_env = trust_env
        self._proxied = proxied
        self._asyncio: AsyncioBackend | None = None
        self._tunnels: AnyioBackend | TrioBackend | None = None  # can start_tls

    def _tunnel_backend(self) -> AnyioBackend | TrioBackend:
        if self._tunnels is None:
            if running_on_asyncio():
                self._tunnels = AnyioBackend(self._verify, self._trust_env)
            else:
                self._tunnels = TrioBackend(self._verify, self._trust_env)
        return self._tunnels

    async def connect(self, op: Connect) -> AsyncStream:
        """A stream to ``op.origin`` (or the proxy), on the running loop's backend."""
        if not self._proxied and running_on_asyncio():
            if self._asyncio is None:
                self._asyncio = AsyncioBackend(self._verify, self._trust_env)
            return await self._asyncio.connect(op)
        return await self._tunnel_backend().connect(op)

    async def start_tls(self, op: StartTLS) -> AsyncStream:
        """TLS with the origin inside a proxy's tunnel (see above)."""
        return await self._tunnel_backend().start_tls(op)

    async def resolve(self, op: Resolve) -> str:
        """One address of ``op.host`` (for a SOCKS5 proxy)."""
        return await self._tunnel_backend().resolve(op)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (between retries); cancellable."""
        await anyio.sleep(seconds)
