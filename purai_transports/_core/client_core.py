"""``ClientCore``: what every client shares, whatever its transport.

The public clients (:mod:`.clients`) take the settings as keywords and pick a backend
and a runner; a ``ClientCore`` holds the :class:`~.settings.ClientSettings` (checked
when they were made, before any connection) and the :class:`~.pool.ConnectionPool`,
and makes each request's :class:`~.exchange.Exchange`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from purai_proto import ChatRequest, ClientConnection, LocalProtocolError, check_headers

from .exchange import Exchange
from .pool import ConnectionPool
from .requests import build_request, check_path
from .settings import ClientSettings, Timeout

__all__ = ["ClientCore"]


class ClientCore:
    """What every client shares: its settings and its pool of idle connections.

    Args:
        settings: The client's settings; their fields are read as they are.

    Attributes:
        settings: As given.
        origin: Where requests go (``settings.origin``).
        timeout: ``settings.timeout``, a :class:`~.settings.Timeout`.
        pool: The idle connections.
        clock: Seconds, monotonic: ``time.monotonic`` unless a test gives its own.
        jitter: A number in [0, 1) for each backoff: ``random.random`` unless a test
            gives its own.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.origin = settings.origin
        self.timeout = Timeout.of(settings.timeout)  # already one: this only types it
        self.headers: Mapping[str, str] = settings.headers or {}
        self.pool = ConnectionPool(settings.max_keepalive, settings.keepalive_expiry)
        self.clock: Callable[[], float] = time.monotonic
        self.jitter: Callable[[], float] = random.random

    def describe(self, client: object) -> str:
        """The repr of ``client``: its class and origin, and never the API key, since
        reprs end up in logs."""
        key = "set" if self.settings.api_key else "none"
        return f"<{type(client).__name__} {self.origin} api_key={key}>"

    def exchange(
        self,
        request: ChatRequest | None,
        fields: dict[str, Any],
        *,
        path: str,
        stream: bool,
        headers: Mapping[str, str] | None = None,
        accumulate: bool = True,
    ) -> Exchange:
        """Prepare one request; nothing happens until its ``run()`` is driven."""
        if self.pool.closed:
            raise LocalProtocolError("the client is closed")
        built = build_request(request, fields, stream=stream)
        if headers:
            check_headers(None, headers)
            extra: Mapping[str, str] = {**self.headers, **headers}
        else:
            extra = self.headers
        path = self.origin.prefix + check_path(path)
        return Exchange(self, built, path, extra, accumulate=accumulate, wants_reply=not stream)

    def new_protocol(self) -> ClientConnection:
        """The protocol state for a new connection."""
        return ClientConnection(self.origin.host_header, http_parser=self.settings.http_parser)
