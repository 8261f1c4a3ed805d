"""The stand-in PurAI server: ``purai serve``, and a real server for tests and demos.

:class:`ServerConfig` says how it answers; :func:`serve` runs it in your event loop,
:class:`BackgroundServer` in a thread of its own. The routes and the wire are in
:mod:`purai_transports.server._server`, the HTTP/1.1 connection handling in
:mod:`purai_transports.server._connection`, and what it says (canned replies, model
lists, error bodies) in :mod:`purai_transports.server._replies`.
"""

from ._replies import stream_chunks
from ._routes import BackgroundServer, ServerConfig, serve, server_url

__all__ = ["BackgroundServer", "ServerConfig", "serve", "server_url", "stream_chunks"]
