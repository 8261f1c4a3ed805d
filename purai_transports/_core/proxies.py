"""Which proxy a connection goes through: ``proxy=`` parsed, or the environment read.

Theory of operation
-------------------
A client's requests go to one origin, directly or through one proxy: the pair is its
:class:`Route`, and the pool keeps connections by route. The proxy is ``proxy=`` when
given. Otherwise, with ``trust_env``, it is read from the variables curl, httpx and
urllib read, when the client is made:

* ``https_proxy`` for an ``https://`` origin, ``http_proxy`` for an ``http://`` one,
  else ``all_proxy`` for both; each in lower case first, then upper case. An empty
  value counts as unset. The upper-case ``HTTP_PROXY`` is ignored when
  ``REQUEST_METHOD`` is set: in a CGI script, a request's ``Proxy:`` header arrives
  as ``HTTP_PROXY`` ("httpoxy", CVE-2016-5385), as urllib and curl ignore it.
* ``no_proxy`` (then ``NO_PROXY``) lists the hosts reached directly, separated by
  commas (or spaces): ``*`` for all; a name, which also covers every name under it
  (``example.com`` and ``.example.com`` both cover ``api.example.com``); an IP
  address, or a network in CIDR form (``10.0.0.0/8``, ``fd00::/8``); any of them with
  ``:port`` to cover that port only (IPv6 in brackets then: ``[::1]:8080``). Names are
  compared without case; nothing is resolved.

A proxy URL without a scheme is an HTTP proxy (``proxy.corp:3128``, as curl reads it);
without a port, the scheme's own (80, 443, 1080 for SOCKS). Credentials in it are
percent-decoded, and never shown: ``str()`` and ``repr()`` leave them out.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

from purai_proto import LocalProtocolError, proxy_authorization

if TYPE_CHECKING:
    from .settings import Origin

__all__ = ["PROXY_SCHEMES", "Proxy", "Route", "bypasses_proxy", "proxy_from_environment"]

#: The proxy schemes understood, and the port each means when none is given.
PROXY_SCHEMES = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A proxy server, parsed from its URL.

    Attributes:
        scheme: ``"http"``, ``"https"`` (TLS to the proxy itself), ``"socks5"`` (the
            client resolves the origin's name) or ``"socks5h"`` (the proxy does).
        host: Its host name or address (an IPv6 address without brackets).
        port: Its port.
        username: The user name from the URL, if any; never shown.
        password: The password from the URL, if any; never shown.
    """

    scheme: str
    host: str
    port: int
    username: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """Parse ``scheme://[user[:password]@]host[:port]``.

        Raises:
            LocalProtocolError: Not a proxy URL this library can use. The message
                never quotes the URL, which may hold a password.
        """
        if not isinstance(url, str):
            raise LocalProtocolError(f"proxy must be a str, not {type(url).__name__}")
        if "://" not in url:
            url = "http://" + url
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise LocalProtocolError("invalid proxy URL: its port is not a number") from None
        scheme = parts.scheme.lower()
        if scheme not in PROXY_SCHEMES:
            known = ", ".join(f"{name}://" for name in PROXY_SCHEMES)
            raise LocalProtocolError(f"invalid proxy URL: the scheme {scheme!r} is not {known}")
        if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise LocalProtocolError(
                "invalid proxy URL: expected scheme://[user:password@]host[:port], no path"
            )
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port or PROXY_SCHEMES[scheme],
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    @property
    def is_socks(self) -> bool:
        return self.scheme.startswith("socks")

    @property
    def address(self) -> Origin:
        """Where to connect to reach the proxy, with TLS for an ``https://`` one."""
        from .settings import Origin  # here: the settings module imports this one

        shown = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.scheme == "https" else "http"
        return Origin(scheme, self.host, self.port, "", f"{shown}:{self.port}")

    def forwards(self, origin: Origin) -> bool:
        """Whether requests to ``origin`` are sent to the proxy itself, in absolute
        form, instead of through a tunnel: an ``http://`` origin through an HTTP proxy."""
        return not origin.tls and not self.is_socks

    def authorization(self) -> bytes | None:
        """The ``Proxy-Authorization`` value for the URL's credentials, if it has any.

        Raises:
            LocalProtocolError: A user name Basic authentication cannot carry.
        """
        if self.username is None:
            return None
        return proxy_authorization(self.username, self.password or "")

    def __str__(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{shown}:{self.port}"


class Route(NamedTuple):
    """Where a connection goes: the origin, and the proxy in between (or None)."""

    origin: Origin
    proxy: Proxy | None


def _variable(environ: Mapping[str, str], name: str) -> str | None:
    """A proxy variable's value, lower case first; None when unset or empty."""
    value = environ.get(name)
    if not value:
        upper = name.upper()
        if upper == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
            return None  # httpoxy: a CGI request's Proxy: header (see the module doc)
        value = environ.get(upper)
    return value.strip() or None if value else None


def proxy_from_environment(origin: Origin, environ: Mapping[str, str]) -> str | None:
    """The proxy URL the environment gives for ``origin`` (see the module doc), or
    None for a direct connection."""
    found = _variable(environ, f"{origin.scheme}_proxy") or _variable(environ, "all_proxy")
    if found is None:
        return None
    if bypasses_proxy(_variable(environ, "no_proxy") or "", origin.host, origin.port):
        return None
    return found


def bypasses_proxy(no_proxy: str, host: str, port: int) -> bool:
    """Whether ``no_proxy`` lists ``host`` (with ``port``), as the module doc says."""
    host = host.lower().rstrip(".")
    address = _ip(host)
    for entry in no_proxy.replace(",", " ").split():
        pattern, entry_port = _split_port(entry.lower())
        if entry_port is not None and entry_port != port:
            continue
        if pattern == "*":
            return True
        if address is not None:
            network = _network(pattern)
            if network is not None and address in network:
                return True
            continue
        name = pattern.lstrip("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``(pattern, port)`` for a ``no_proxy`` entry; port None when it names none."""
    if entry.startswith("["):  # [IPv6] or [IPv6]:port
        address, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return address, int(port) if port.isdigit() else None
    if entry.count(":") == 1:  # name:port or IPv4:port; a bare IPv6 address has more
        name, _, port = entry.partition(":")
        return name, int(port) if port.isdigit() else None
    return entry, None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _network(pattern: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return None
