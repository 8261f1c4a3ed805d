"""``ClientCore``: what every client shares, whatever its transport.

The public clients (:mod:`.clients`) take the arguments and pick a backend and a
runner; a ``ClientCore`` holds the settings, checked once here before any connection
is made, and the :class:`~.pool.ConnectionPool`, and makes each request's
:class:`~.exchange.Exchange`.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from purai_proto import (
    ChatRequest,
    ClientConnection,
    HttpParserName,
    LocalProtocolError,
    check_headers,
)

from .exchange import Exchange
from .pool import ConnectionPool
from .requests import build_request, check_path
from .settings import Origin, Timeout, is_number

__all__ = ["ClientCore", "check_count"]


class ClientCore:
    """What every client shares: its settings and its pool of idle connections.

    Args:
        base_url: ``http[s]://host[:port][/prefix]``.
        api_key: Sent as a bearer token; defaults to the ``PURAI_API_KEY`` environment
            variable.
        timeout: See :class:`~purai_transports.Timeout`; ``None`` means no limits.
        max_retries: How many times to retry a failed connection or a 429/502/503/504
            reply before any of its body arrived.
        headers: Extra header fields for every request.
        max_keepalive: The most idle connections kept for reuse.
        keepalive_expiry: Seconds an idle connection is kept.
        backoff: The first retry's wait in seconds; each further one doubles it.
        resend_unanswered: Re-send, once, a request whose reused connection closed
            after it was written and before any byte of reply (see :mod:`.exchange`).
        http_parser: The :class:`~purai_proto.ClientConnection` parser.

    Every setting is checked here, before any connection is made.

    Attributes:
        clock: Seconds, monotonic: ``time.monotonic`` unless a test gives its own.
        jitter: A number in [0, 1) for each backoff: ``random.random`` unless a test
            gives its own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - frozen
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        max_keepalive: int = 10,
        keepalive_expiry: float = 5.0,
        backoff: float = 0.5,
        resend_unanswered: bool = False,
        http_parser: HttpParserName = "auto",
    ) -> None:
        check_count("max_retries", max_retries)
        check_count("max_keepalive", max_keepalive)
        _check_seconds("keepalive_expiry", keepalive_expiry)
        _check_seconds("retry_backoff", backoff)
        if not isinstance(resend_unanswered, bool):
            raise LocalProtocolError(
                f"resend_unanswered must be True or False, not {resend_unanswered!r}"
            )
        self.origin = Origin.parse(base_url)
        key = api_key if api_key is not None else os.environ.get("PURAI_API_KEY")
        if key is not None and not isinstance(key, str):
            raise LocalProtocolError(f"api_key must be a str, not {type(key).__name__}")
        self._api_key = key or None  # an empty key (or variable) means no key
        self.timeout = Timeout.of(timeout)
        self.max_retries = max_retries
        check_headers(self._api_key, headers)
        self.headers = dict(headers or {})
        self.pool = ConnectionPool(max_keepalive, keepalive_expiry)
        self.backoff = backoff
        self.resend_unanswered = resend_unanswered
        self.http_parser = http_parser
        # Made once to check the parser's name (and that httptools imports, if asked).
        ClientConnection(self.origin.host_header, http_parser=http_parser)
        self.clock: Callable[[], float] = time.monotonic
        self.jitter: Callable[[], float] = random.random

    def describe(self, client: object) -> str:
        """The repr of ``client``: its class and origin, and never the API key, since
        reprs end up in logs."""
        key = "set" if self._api_key else "none"
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
            extra = {**self.headers, **headers}
        else:
            extra = self.headers
        path = self.origin.prefix + check_path(path)
        return Exchange(self, built, path, extra, accumulate=accumulate, wants_reply=not stream)

    def new_protocol(self) -> ClientConnection:
        """The protocol state for a new connection."""
        return ClientConnection(self.origin.host_header, http_parser=self.http_parser)


def check_count(name: str, value: object, minimum: int = 0) -> None:
    """Refuse ``value`` unless it is an int (not a bool) of at least ``minimum``."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        raise LocalProtocolError(f"{name} must be an int of {minimum} or more, not {value!r}")


def _check_seconds(name: str, value: object) -> None:
    if not (is_number(value) and value >= 0 and math.isfinite(value)):  # type: ignore[operator, arg-type]
        raise LocalProtocolError(f"{name} must be a finite number of seconds, not {value!r}")
