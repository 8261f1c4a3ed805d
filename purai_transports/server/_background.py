"""The stand-in server in a thread of its own, for blocking code."""

from __future__ import annotations

import contextlib
from types import TracebackType

import anyio.from_thread

from ._config import ServerConfig
from ._serve import serve, server_url

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """The stand-in server in a thread of its own, for blocking code.

    Example::

        with BackgroundServer(ServerConfig(quiet=True)) as server:
            client = Client(server.base_url)

    Args:
        config: How the server behaves; the defaults when omitted.
        backend: The event loop the thread runs: ``"asyncio"`` or ``"trio"``.
    """

    def __init__(self, config: ServerConfig | None = None, *, backend: str = "asyncio") -> None:
        self.config = config or ServerConfig()
        self.backend = backend
        self._address: tuple[str, int] | None = None
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> BackgroundServer:
        """Start the server; return once it listens.

        Raises:
            OSError: The address cannot be listened on.
        """
        if self._stack is not None:
            raise RuntimeError("the server is already running")
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal(self.backend))
            future, address = portal.start_task(serve, self.config)
            # Undone in reverse: cancel the server, then stop the loop and join the thread.
            stack.callback(future.cancel)
            self._address = address
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server, closing its connections, and join its thread."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _require_address(self) -> tuple[str, int]:
        if self._address is None or self._stack is None:
            raise RuntimeError("the server is not running; use it in a with block")
        return self._address

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._require_address()[0]

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._require_address()[1]

    @property
    def base_url(self) -> str:
        """The server's URL, e.g. ``http://127.0.0.1:54321``."""
        return server_url(*self._require_address())
