"""The library's one error hierarchy.

Following h11: anything wrong with the bytes a peer sent raises
:class:`RemoteProtocolError`; anything wrong with how the caller uses an object raises
:class:`LocalProtocolError`. No other exception escapes :mod:`purai_proto`; if one
does, that is a bug.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "PuraiError", "RemoteProtocolError"]


class PuraiError(Exception):
    """Base class of every exception this library raises."""


class RemoteProtocolError(PuraiError):
    """The peer sent bytes that break the protocol, or more than the limits allow.

    Attributes:
        reason: What was wrong, in a few words (without the offset).
        offset: Position in the stream, in bytes from its start, where the problem was
            found, or ``None`` when no single position applies.
    """

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class LocalProtocolError(PuraiError):
    """The caller used an object in a way it does not allow (a bad argument, a call
    out of order, a header value that would break the request)."""
