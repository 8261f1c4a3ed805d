"""Opening a tunnel through a proxy, sans I/O: what to send, and what the reply means.

* :mod:`.http_tunnel`: ``CONNECT host:port`` to an HTTP proxy, on h11 (RFC 9110,
  section 9.3.6), and the ``Proxy-Authorization`` value for credentials.
* :mod:`.socks5_tunnel`: SOCKS5's greeting, login and ``CONNECT`` (RFC 1928, RFC
  1929), through socksio.
* :mod:`.events`: what both say at the end: the tunnel is open, or refused.

Both have the same small interface, so that one loop drives either: ask
``next_event()``, send what ``data_to_send()`` then returns (a reply just read may
have made the next message), and while the event was :data:`~purai_proto.NEED_DATA`,
pass what arrives to ``receive_data()`` (``b""`` at EOF) and go round again, until it
is :class:`TunnelOpened` or :class:`TunnelRefused`.
"""

from .events import TunnelEvent, TunnelOpened, TunnelRefused
from .http_tunnel import HttpTunnel, proxy_authorization
from .socks5_tunnel import Socks5Tunnel

__all__ = [
    "HttpTunnel",
    "Socks5Tunnel",
    "TunnelEvent",
    "TunnelOpened",
    "TunnelRefused",
    "proxy_authorization",
]
