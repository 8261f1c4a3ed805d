"""The server side of one HTTP/1.1 connection: h11 driven over an anyio byte stream.

Theory of operation
-------------------
h11 knows HTTP/1.1; this class only moves bytes between it and the socket, and bounds
what a client can make the server hold: a request head larger than
``max_head_size`` is refused with 431, a body larger than
``max_body_size`` with 413, announced by ``Content-Length`` or found while reading a
chunked body.

Every response body part passed to :meth:`ServerConnection.send_data` becomes one HTTP
chunk, written with one ``send``: a streaming client sees each object as soon as the
server has it, and tests can check that chunk boundaries carry no meaning.

A client going away shows up as :class:`ClientGone` from any method, whatever the
backend said (anyio's ``BrokenResourceError``, ``EndOfStream``, ``OSError``), so that
the server can stop serving the connection quietly.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

import anyio
import anyio.abc
import h11

__all__ = ["BadRequest", "ClientGone", "Request", "ServerConnection"]

_RECEIVE_SIZE = 64 * 1024
# How long a connection that must close is drained before closing, so that a client
# still sending its body gets the error reply instead of a reset (RFC 9112, 9.6).
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1024 * 1024


class ClientGone(Exception):
    """The client closed or reset the connection."""


class BadRequest(Exception):
    """The request cannot be served; the connection must close after the reply.

    Attributes:
        status: The status to reply with (400, 413, 431).
        message: What was wrong.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Request:
    """A request, read whole.

    Attributes:
        method: ``GET``, ``POST``, ...
        target: The request target as sent (path and query).
        path: The target without its query.
        headers: The header fields, names lowercased, in the order sent.
        body: The body.
    """

    method: str
    target: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The value of the first field named ``name`` (lowercase), or ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class ServerConnection:
    """One client connection, serving requests one after the other (keep-alive).

    Args:
        stream: The connected byte stream; this object does not close it.
        max_head_size: The largest request head accepted, in bytes.
        max_body_size: The largest request body accepted, in bytes.
    """

    def __init__(
        self, stream: anyio.abc.ByteStream, *, max_head_size: int, max_body_size: int
    ) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head_size)
        self._max_head_size = max_head_size
        self._max_body_size = max_body_size

    @property
    def can_reply(self) -> bool:
        """True while a response can still be started for the current request."""
        # IDLE too: after a malformed request h11 lets a server still reply (with 400).
        return self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE)

    async def _receive(self) -> bytes:
        try:
            return await self._stream.receive(_RECEIVE_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return b""  # h11 takes b"" as end of input

    async def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if not data:
            return
        try:
            await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise ClientGone from exc

    async def next_request(self) -> Request | None:
        """Read the next request, body included.

        Returns:
            The request, or ``None`` when the client closed the connection between
            requests.

        Raises:
            BadRequest: The request is malformed or too large; reply, then close.
        """
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise BadRequest(exc.error_status_hint, str(exc)) from None
            if event is h11.NEED_DATA:
                if self._h11.they_are_waiting_for_100_continue:
                    await self._send(h11.InformationalResponse(status_code=100, headers=[]))
                self._h11.receive_data(await self._receive())
            elif isinstance(event, h11.Request):
                head = event
                self._check_sizes(event)
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self._max_body_size:
                    raise BadRequest(413, self._too_large())
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None  # h11 sends the head first
                target = head.target.decode("latin-1")
                return Request(
                    method=head.method.decode("latin-1"),
                    target=target,
                    path=target.partition("?")[0],
                    headers=list(head.headers),
                    body=bytes(body),
                )
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _too_large(self) -> str:
        return f"the request body is larger than {self._max_body_size} bytes"

    def _check_sizes(self, head: h11.Request) -> None:
        # h11 bounds only a head still incomplete; one that arrived whole in a single
        # read can be larger, so its size is checked here too.
        size = (
            len(head.method)
            + len(head.target)
            + sum(len(name) + len(value) + 4 for name, value in head.headers)
        )
        if size > self._max_head_size:
            raise BadRequest(431, f"the request head is larger than {self._max_head_size} bytes")
        for name, value in head.headers:
            # h11 has already checked that the value is a number.
            if name == b"content-length" and int(value) > self._max_body_size:
                raise BadRequest(413, self._too_large())

    async def send_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Start the response.

        Args:
            status: The status code.
            headers: The header fields. Without ``Content-Length`` the body is sent
                chunked (or, to an HTTP/1.0 client, delimited by closing).

        Raises:
            ClientGone: The client went away.
        """
        try:
            reason = HTTPStatus(status).phrase.encode("ascii")
        except ValueError:
            reason = b""
        await self._send(h11.Response(status_code=status, headers=headers, reason=reason))

    async def send_data(self, data: bytes) -> None:
        """Send part of the body, as one HTTP chunk when the body is chunked.

        Raises:
            ClientGone: The client went away.
        """
        if data:
            await self._send(h11.Data(data=data))

    async def finish(self) -> bool:
        """End the response.

        Returns:
            True when the connection can serve another request, False when it must
            close (the client asked for it, or it still owes part of its request).

        Raises:
            ClientGone: The client went away.
        """
        await self._send(h11.EndOfMessage())
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    async def wait_until_client_leaves(self) -> None:
        """Send nothing and wait until the client closes the connection.

        What the client sends meanwhile is read and dropped, so that it cannot block.
        """
        while await self._receive():
            pass

    async def close_gracefully(self) -> None:
        """Half-close, then drain what the client still sends for a moment.

        Closing a socket with unread input makes the kernel send a reset, which can
        destroy the reply before the client reads it; this gives the client the time
        to read it (the lingering close of RFC 9112, section 9.6).
        """
        try:
            await self._stream.send_eof()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return
        drained = 0
        with anyio.move_on_after(_LINGER_SECONDS):
            while drained < _LINGER_BYTES:
                data = await self._receive()
                if not data:
                    break
                drained += len(data)
