"""The stand-in PurAI server: ``purai serve``, and a real server for tests and demos.

:class:`ServerConfig` says how it answers; :func:`serve` runs it in your event loop,
:class:`BackgroundServer` in a thread of its own. Inside, one module a job:

* :mod:`purai_transports.server._config`: the settings and their checks;
* :mod:`purai_transports.server._serve`: the listener and each connection's loop;
* :mod:`purai_transports.server._routes`: which answer a request gets, faults included;
* :mod:`purai_transports.server._wire`: the reply's head fields and its (gzip) body;
* :mod:`purai_transports.server._connection`: HTTP/1.1 on h11, one connection;
* :mod:`purai_transports.server._replies`: what it says (replies, model lists, errors);
* :mod:`purai_transports.server._background`: the server in a thread of its own.
"""

from ._background import BackgroundServer
from ._config import ServerConfig
from ._replies import stream_chunks
from ._serve import serve, server_url

__all__ = ["BackgroundServer", "ServerConfig", "serve", "server_url", "stream_chunks"]
