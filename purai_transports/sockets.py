"""Blocking byte streams on the standard library's ``socket`` and ``ssl``.

The public names of :mod:`purai_transports._backends.sockets`, the backend of
:class:`purai_transports.blocking.Client`: usable on their own to move a
:class:`purai_proto.ClientConnection`'s bytes.
"""

from ._backends.sockets import (
    READ_SIZE,
    SocketBackend,
    SocketPoller,
    SocketStream,
    default_ssl_context,
)

__all__ = ["READ_SIZE", "SocketBackend", "SocketPoller", "SocketStream", "default_ssl_context"]
