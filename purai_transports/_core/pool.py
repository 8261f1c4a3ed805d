"""The pool: idle connections kept for reuse, and what a connection is.

Connections are kept by route (:class:`~.proxies.Route`: the origin, and the proxy in
between). An exchange takes the connection to its route returned last (the one most
likely still open), and checks it before use (see :mod:`.exchange`); it gives a
connection back only when its reply was read to the end and the protocol calls it
reusable.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from purai_proto import ClientConnection

__all__ = ["Connection", "ConnectionPool"]


class Connection:
    """A byte stream from a backend and the protocol state that goes with it."""

    __slots__ = ("broken", "idle_since", "protocol", "reused", "route", "stream")

    def __init__(self, stream: Any, protocol: ClientConnection, route: Hashable = None) -> None:
        self.stream = stream
        self.protocol = protocol
        self.route = route  # where it goes: the origin, and the proxy in between
        self.idle_since = 0.0
        self.reused = False  # carried an earlier exchange
        self.broken = False  # a write failed: never reused, whatever the reply said


class ConnectionPool:
    """Idle connections, at most ``max_keepalive`` of them.

    Args:
        max_keepalive: The most idle connections kept; more are closed.
        keepalive_expiry: Seconds an idle connection may be reused for.

    Attributes:
        idle: The idle connections, oldest first.
        closed: True once :meth:`drain` was called: nothing is kept after that.
    """

    def __init__(self, max_keepalive: int, keepalive_expiry: float) -> None:
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self.idle: list[Connection] = []
        self.closed = False

    def pop(self, route: Hashable = None) -> Connection | None:
        """The idle connection to ``route`` returned last, if any (the one most likely
        still open): a connection through one proxy never carries a request meant to
        go through another, or none."""
        idle = self.idle
        for i in range(len(idle) - 1, -1, -1):
            if idle[i].route == route:
                return idle.pop(i)
        return None

    def expired(self, connection: Connection, now: float) -> bool:
        """Whether ``connection`` sat idle too long to be reused."""
        return now - connection.idle_since >= self.keepalive_expiry

    def give_back(self, connection: Connection, now: float) -> bool:
        """Keep ``connection`` for reuse if there is room; False if it must be closed."""
        if self.closed or len(self.idle) >= self.max_keepalive:
            return False
        connection.idle_since = now
        connection.reused = True
        self.idle.append(connection)
        return True

    def drain(self) -> list[Connection]:
        """Close the pool: every idle connection, for the runner to close."""
        self.closed = True
        idle, self.idle = self.idle, []
        return idle
