"""Client settings: every one of them, with its default, once (:class:`ClientSettings`);
where to connect (:class:`Origin`) and how long to wait (:class:`Timeout`).

A new setting is a field of :class:`ClientSettings` (its type, default, docs and
check) and a keyword of ``ClientBase.__init__`` (:mod:`.clients`), whose signature
mirrors the fields; ``tests/test_public_api.py`` checks that the two agree.
"""

from __future__ import annotations

import dataclasses
import math
import os
import ssl
from collections.abc import Mapping
from typing import TypeAlias
from urllib.parse import urlsplit

from purai_proto import HttpParserName, LocalProtocolError, check_headers, check_http_parser

from .paths import default_base_url
from .proxies import Proxy, proxy_from_environment

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "ClientSettings",
    "Origin",
    "Timeout",
    "TimeoutArg",
    "VerifyArg",
    "check_count",
    "is_number",
]


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


#: What a client's ``timeout`` takes: a Timeout, one number of seconds for the
#: connect, read, write and chunk limits, or ``None`` for no limits at all.
TimeoutArg: TypeAlias = Timeout | float | None


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


#: What ``verify`` takes: on or off, a CA bundle's path, or a whole TLS context.
VerifyArg = bool | str | os.PathLike[str] | ssl.SSLContext

#: Requests in flight at once in an async client whose ``max_connections`` is None.
DEFAULT_MAX_CONNECTIONS = 100


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """Every setting of a client, with its default; each is checked when made, before
    any connection is.

    The clients take these as keywords (``Client(base_url, timeout=5)``).

    Attributes:
        base_url: ``http[s]://host[:port][/prefix]``; defaults to the
            ``PURAI_BASE_URL`` environment variable.
        api_key: Sent as ``Authorization: Bearer``; defaults to ``PURAI_API_KEY``
            (an empty key means none). Never shown in a repr.
        timeout: A :class:`~purai_transports.Timeout` (its defaults unless given),
            one number of seconds for connecting, each read, each write and the gap
            between chunks, or ``None`` for no limits at all. Held as a ``Timeout``.
        max_retries: Retries of a failed connection or a 429/502/503/504 reply
            (never once a stream began).
        retry_backoff: The first retry's wait in seconds; each further one doubles
            it, and a ``Retry-After`` asking for longer wins (up to 60 s: a reply
            asking for more is raised at once).
        headers: Extra header fields sent with every request.
        verify: TLS verification: ``True`` (the system's trust store; with
            ``trust_env``, the ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` variables choose
            it), the path of a CA bundle file (or of a directory of certificates),
            ``False`` (none; only for tests), or an ``ssl.SSLContext``. It applies to
            an ``https://`` proxy too. The context is made on the first TLS
            connection, not before.
        proxy: The proxy every request goes through:
            ``http://[user:password@]host:port`` (``CONNECT`` tunnels for
            ``https://`` origins, requests in absolute form for ``http://`` ones),
            ``https://...`` (the same, with TLS to the proxy), ``socks5://...`` or
            ``socks5h://...`` (the proxy resolves the name). ``None``: the
            environment's, with ``trust_env``. Never shown in a repr or an error.
        trust_env: Read the environment: ``HTTPS_PROXY``, ``HTTP_PROXY``,
            ``ALL_PROXY`` and ``NO_PROXY`` (as curl and httpx read them) when no
            ``proxy`` is given, and ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` when
            ``verify`` is ``True``. ``False`` ignores them all.
        max_connections: The async clients' most requests in flight at once; more
            wait for a slot. ``None`` means 100. The blocking client takes none: each
            call holds one connection while it runs.
        max_keepalive: Idle connections kept for reuse.
        keepalive_expiry: Seconds an idle connection is kept.
        resend_unanswered: Send a request once more, on a new connection, when the
            reused connection it was written on closed before any byte of reply (the
            keep-alive race). Off by default, since the server may have processed it:
            such a request raises :class:`~purai_transports.ServerDisconnectedError`.
            A request the server cannot have received whole is re-sent either way.
        http_parser: Which parser reads responses: ``"auto"`` (httptools when it is
            installed, else h11), ``"h11"`` or ``"httptools"``.
        origin: Where the requests go, parsed from ``base_url`` (not an argument).
        via: The proxy requests go through, from ``proxy`` or the environment; None
            for none (not an argument).

    Raises:
        LocalProtocolError: A bad value.
    """

    base_url: str | None = None
    api_key: str | None = dataclasses.field(default=None, repr=False)
    timeout: TimeoutArg = Timeout()  # frozen: one can be shared
    max_retries: int = 2
    retry_backoff: float = 0.5
    headers: Mapping[str, str] | None = None
    verify: VerifyArg = True
    proxy: str | None = dataclasses.field(default=None, repr=False)  # may hold a password
    trust_env: bool = True
    max_connections: int | None = None
    max_keepalive: int = 10
    keepalive_expiry: float = 5.0
    resend_unanswered: bool = False
    http_parser: HttpParserName = "auto"
    origin: Origin = dataclasses.field(init=False, repr=False)
    via: Proxy | None = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        base_url = default_base_url(self.base_url)
        origin = Origin.parse(base_url)
        check_count("max_retries", self.max_retries)
        check_count("max_keepalive", self.max_keepalive)
        if self.max_connections is not None:
            check_count("max_connections", self.max_connections, minimum=1)
        _check_seconds("keepalive_expiry", self.keepalive_expiry)
        _check_seconds("retry_backoff", self.retry_backoff)
        if not isinstance(self.resend_unanswered, bool):
            raise LocalProtocolError(
                f"resend_unanswered must be True or False, not {self.resend_unanswered!r}"
            )
        key = self.api_key if self.api_key is not None else os.environ.get("PURAI_API_KEY")
        if key is not None and not isinstance(key, str):
            raise LocalProtocolError(f"api_key must be a str, not {type(key).__name__}")
        timeout = Timeout.of(self.timeout)
        _check_verify(self.verify)
        if not isinstance(self.trust_env, bool):
            raise LocalProtocolError(f"trust_env must be True or False, not {self.trust_env!r}")
        proxy = self.proxy
        if proxy is None and self.trust_env:
            proxy = proxy_from_environment(origin, os.environ)
        via = Proxy.parse(proxy) if proxy is not None else None
        if via is not None:
            via.authorization()  # a user name Basic cannot carry fails now
        check_headers(key or None, self.headers)
        check_http_parser(self.http_parser)
        # The values as given, made what they mean. The fields are frozen for everyone
        # else; this is the one place that sets them.
        meant = {
            "base_url": base_url,
            "origin": origin,
            "via": via,
            "api_key": key or None,  # an empty key (or variable) means no key
            "timeout": timeout,
            "headers": dict(self.headers or {}),  # a copy: later changes do not leak in
        }
        for name, value in meant.items():
            object.__setattr__(self, name, value)


def check_count(name: str, value: object, minimum: int = 0) -> None:
    """Refuse ``value`` unless it is an int (not a bool) of at least ``minimum``."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        raise LocalProtocolError(f"{name} must be an int of {minimum} or more, not {value!r}")


def _check_verify(verify: object) -> None:
    if isinstance(verify, (bool, ssl.SSLContext)):
        return
    if not isinstance(verify, (str, os.PathLike)):
        raise LocalProtocolError(
            "verify must be True, False, a CA bundle path or an ssl.SSLContext, "
            f"not {type(verify).__name__}"
        )
    if not os.path.exists(verify):
        raise LocalProtocolError(f"verify: no CA bundle at {os.fspath(verify)!r}")


def _check_seconds(name: str, value: object) -> None:
    if not (is_number(value) and value >= 0 and math.isfinite(value)):  # type: ignore[operator, arg-type]
        raise LocalProtocolError(f"{name} must be a finite number of seconds, not {value!r}")
