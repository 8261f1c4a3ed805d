"""What a tunnel handshake ends with: :class:`TunnelOpened` or :class:`TunnelRefused`."""

from __future__ import annotations

import msgspec

__all__ = ["TunnelEvent", "TunnelOpened", "TunnelRefused"]


class TunnelOpened(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The proxy opened the tunnel: from now on the bytes are the origin's.

    Attributes:
        data: Bytes that arrived after the proxy's reply, already the origin's (the
            start of a TLS handshake, say); the caller passes them on first.
    """

    data: bytes = b""


class TunnelRefused(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The proxy answered, and would not open the tunnel.

    Attributes:
        status: The HTTP status of the reply to ``CONNECT`` (``407``, ``403``...), or
            the SOCKS5 reply code (``1`` to ``8``; ``0`` when the proxy refused the
            login or accepted none of the ways offered to log in).
        reason: What the proxy said, or what the code means, in a few words.
    """

    status: int
    reason: str


TunnelEvent = TunnelOpened | TunnelRefused
