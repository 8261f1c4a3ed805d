"""Client settings: where to connect (:class:`Origin`) and how long to wait
(:class:`Timeout`)."""

from __future__ import annotations

import dataclasses
import math
from urllib.parse import urlsplit

from purai_proto import LocalProtocolError

__all__ = ["Origin", "Timeout", "TimeoutArg", "is_number"]


@dataclasses.dataclass(frozen=True)
class Timeout:
    """Time limits, in seconds; ``None`` means no limit.

    Attributes:
        connect: Connecting, TLS handshake included.
        read: Waiting for any byte from the server.
        write: Sending the request.
        chunk: From the request written to the first decoded chunk (the response
            head, any 1xx responses and an error body included), then the gap between
            two chunks: bytes that decode to nothing, such as SSE keep-alive comments,
            do not reset it.
        total: The whole request, from the first connection attempt to the end of the
            stream, retries and their waits included.
    """

    connect: float | None = 10.0
    read: float | None = 60.0
    write: float | None = 60.0
    chunk: float | None = 120.0
    total: float | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and not (is_number(value) and value > 0 and math.isfinite(value)):
                raise LocalProtocolError(
                    f"Timeout.{field.name} must be a positive number of seconds or None, "
                    f"not {value!r}"
                )

    @classmethod
    def of(cls, value: TimeoutArg) -> Timeout:
        """A Timeout from what a client accepts: a Timeout, one number for the
        connect, read, write and chunk limits, or ``None`` for no limits at all."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None, None, None)
        if not is_number(value):
            raise LocalProtocolError(
                f"timeout must be a Timeout, a number of seconds or None, not {value!r}"
            )
        return cls(value, value, value, value, None)


TimeoutArg = Timeout | float | None


def is_number(value: object) -> bool:
    """An int or a float, and not a bool (``True`` seconds is a mistake, not 1 s)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a client's requests go: parsed once from its ``base_url``.

    Attributes:
        scheme: ``"http"`` or ``"https"``.
        host: The host name or address (an IPv6 address without brackets).
        port: The TCP port.
        prefix: The base URL's path without a trailing slash, put before every
            request path (``""`` for none).
        host_header: The ``Host`` header value: the host, and the port if not the
            scheme's default.
    """

    scheme: str
    host: str
    port: int
    prefix: str
    host_header: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        """Parse ``http[s]://host[:port][/prefix]``.

        Raises:
            LocalProtocolError: Not an http or https URL with a host.
        """
        if not isinstance(base_url, str):
            raise LocalProtocolError(f"base_url must be a str, not {type(base_url).__name__}")
        try:
            parts = urlsplit(base_url)
            port = parts.port
        except ValueError as exc:
            raise LocalProtocolError(f"invalid base_url {base_url!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise LocalProtocolError(
                f"invalid base_url {base_url!r}: expected http://host[:port][/path] or https://..."
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise LocalProtocolError(
                f"invalid base_url {base_url!r}: no query, fragment or credentials allowed"
            )
        if port == 0:
            raise LocalProtocolError(f"invalid base_url {base_url!r}: port 0 is no port")
        default_port = 443 if scheme == "https" else 80
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        return cls(
            scheme=scheme,
            host=host,
            port=port or default_port,
            prefix=parts.path.rstrip("/"),
            host_header=shown if port in (None, default_port) else f"{shown}:{port}",
        )

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.prefix}"
