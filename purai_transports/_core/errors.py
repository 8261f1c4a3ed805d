"""The exceptions a client raises: one hierarchy under :class:`purai_proto.PuraiError`.

Every backend failure (``OSError``, ``ssl.SSLError``, ``anyio.*``, ``trio.*``,
``TimeoutError``) is mapped to one of these at one place, the transport's byte stream,
so that no caller ever has to catch a backend's own types.
"""

from __future__ import annotations

from purai_proto import ErrorBody, PuraiError, RemoteProtocolError

__all__ = [
    "APIStatusError",
    "ChunkTimeout",
    "ConnectError",
    "ConnectTimeout",
    "NetworkError",
    "ProxyError",
    "ReadTimeout",
    "RemoteProtocolError",
    "ServerDisconnectedError",
    "StreamError",
    "TLSError",
    "TimeoutException",
    "TotalTimeout",
    "TransportError",
    "WriteTimeout",
]


class TransportError(PuraiError):
    """The network failed: the server could not be reached, or the connection broke."""


class ConnectError(TransportError):
    """No connection could be made (refused, unreachable, DNS, TLS handshake or
    certificate verification)."""


class TLSError(ConnectError):
    """The TLS handshake failed on what the server answered: its certificate did not
    verify (untrusted, expired, or for another host), no protocol version or cipher
    was shared, or it did not speak TLS at all (a plain-HTTP port). Not retried,
    since the next attempt would fail the same way. (A handshake that breaks off is
    a plain ConnectError, and is retried.)"""


class ProxyError(ConnectError):
    """The proxy did not open the way to the server: it refused the tunnel (any
    non-2xx reply to ``CONNECT``, such as ``407``, ``403`` or the ``401`` some proxies
    send for wrong credentials; a ``407`` to a request sent to it in absolute form; a
    SOCKS5 refusal), or it broke the handshake off or answered it with bytes that are
    not the protocol. Not retried. The message names the proxy (never its
    credentials) and what it said.

    Attributes:
        status: The proxy's HTTP status, or the SOCKS5 reply code (``0`` for a refused
            login); ``None`` when it gave none.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NetworkError(TransportError):
    """An established connection broke while sending or receiving (reset, broken pipe)."""


class ServerDisconnectedError(NetworkError):
    """The request was sent whole, then the connection closed or broke before any byte
    of the reply arrived.

    The server may have received and processed the request (a completion billed, a
    tool run), so it is not re-sent unless the client was made with
    ``resend_unanswered=True``. A request the server cannot have received whole (the
    connection was found closed before writing, or the write itself failed) is re-sent
    on a new connection without this error.
    """


class TimeoutException(TransportError):
    """A time limit ran out. The subclass says which one."""


class ConnectTimeout(TimeoutException, ConnectError):
    """Connecting (including the TLS handshake) took longer than ``Timeout.connect``."""


class ReadTimeout(TimeoutException):
    """No byte arrived for ``Timeout.read`` seconds."""


class WriteTimeout(TimeoutException):
    """Sending the request took longer than ``Timeout.write`` seconds."""


class ChunkTimeout(TimeoutException):
    """No chunk was decoded for ``Timeout.chunk`` seconds, though bytes may have
    arrived: from the request sent to the first chunk (the response head, any 1xx
    responses and an error body included), or between two chunks. A server trickling
    its head or sending only keep-alive comments cannot hang a request."""


class TotalTimeout(TimeoutException):
    """The whole request, stream included, took longer than ``Timeout.total``."""


class APIStatusError(PuraiError):
    """The server answered with an HTTP error status.

    Attributes:
        status: The HTTP status code.
        message: The server's message, whatever the body's shape.
        body: The decoded error body, or ``None`` when it was not JSON.
        retry_after: Seconds the server asked to wait (``Retry-After``), if any.
        url: For a 404, the method and URL that were tried
            (``"POST http://host/v1/chat/completions"``); else ``None``.
        hint: For a 404, what was probably meant, when the client can tell.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: ErrorBody | None = None,
        retry_after: float | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.body = body
        self.retry_after = retry_after
        self.url = url
        self.hint = hint
        text = f"HTTP {status}: {message}"
        if url is not None:
            text += f" ({url})"
        if hint is not None:
            text += f"; {hint}"
        super().__init__(text)


class StreamError(PuraiError):
    """The server sent an error object inside a stream that had begun well.

    Attributes:
        message: The server's message.
        body: The error object, decoded.
        status: The status the error object carried, if any.
    """

    def __init__(self, message: str, *, body: ErrorBody | None = None) -> None:
        self.message = message
        self.body = body
        self.status = body.status if body is not None else None
        super().__init__(f"error inside the stream: {message}")


# Re-exported so that ``except purai_transports.RemoteProtocolError`` reads naturally.
RemoteProtocolError = RemoteProtocolError
