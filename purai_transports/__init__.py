"""purai_transports: thin drivers that move bytes between sockets and purai_proto.

Every protocol decision lives in :mod:`purai_proto`, and the client logic (pool,
retries, timeouts) exists once, in :mod:`purai_transports._core.exchange`. The clients:

* :class:`purai_transports.blocking.Client`: blocking, on stdlib ``socket``/``ssl``;
* :class:`purai_transports.anyio.AsyncClient`: async, on anyio (asyncio or trio);
* :class:`purai_transports.trio.TrioClient`: async, on native trio streams.

They raise only the exceptions below (and :class:`purai_proto.LocalProtocolError`
for misuse): never ``OSError``, ``ssl.SSLError``, ``anyio.*`` or ``trio.*``.
"""

from purai_proto import LocalProtocolError, PuraiError

from ._core.errors import (
    APIStatusError,
    ChunkTimeout,
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnectedError,
    StreamError,
    TimeoutException,
    TLSError,
    TotalTimeout,
    TransportError,
    WriteTimeout,
)
from ._core.settings import ClientSettings, Timeout, TimeoutArg

__all__ = [
    "APIStatusError",
    "ChunkTimeout",
    "ClientSettings",
    "ConnectError",
    "ConnectTimeout",
    "LocalProtocolError",
    "NetworkError",
    "ProxyError",
    "PuraiError",
    "ReadTimeout",
    "RemoteProtocolError",
    "ServerDisconnectedError",
    "StreamError",
    "TLSError",
    "Timeout",
    "TimeoutArg",
    "TimeoutException",
    "TotalTimeout",
    "TransportError",
    "WriteTimeout",
]
