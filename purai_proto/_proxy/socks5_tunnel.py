"""A SOCKS5 tunnel, sans I/O, through socksio.

Theory of operation
-------------------
SOCKS5 (RFC 1928) takes up to three rounds, each a message from the client and one
reply: the greeting, offering the ways to log in (none, or user name and password when
credentials were given); the login (RFC 1929), if the proxy chose it; then ``CONNECT``
with the origin's address, a name for the proxy to resolve (``socks5h://``) or an IP
address the client resolved (``socks5://``). Reply code 0 opens the tunnel; any other
refuses it.

socksio writes and reads each message, and checks them; it reads only whole replies,
so their length is found here first, from their fixed parts (a ``CONNECT`` reply's
length depends on the type of address in it). No credential is ever put in an error.

socksio is imported where a tunnel is made, not with this package: it imports the
``socket`` module (for ``inet_pton``, no I/O), and ``import purai_proto`` loads none.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from .._errors import LocalProtocolError, RemoteProtocolError
from .._events import NEED_DATA, NeedData
from .events import TunnelEvent, TunnelOpened, TunnelRefused

__all__ = ["Socks5Tunnel"]

# A CONNECT reply: VER REP RSV ATYP, the address, two bytes of port (RFC 1928, section 6).
_REPLY_HEAD = 4
_ADDRESS_SIZES = {1: 4, 4: 16}  # IPv4, IPv6; a name (3) carries its length first

_REPLY_REASONS = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


class _Step(enum.Enum):
    GREETING = "the greeting"
    LOGIN = "the login"
    CONNECT = "CONNECT"
    DONE = "done"


class Socks5Tunnel:
    """The SOCKS5 handshake that opens a tunnel to ``host:port``.

    Args:
        host: The origin: a name, which the proxy resolves, or an IP address.
        port: The origin's port.
        username: Sent with ``password`` when the proxy asks to log in.
        password: The password, if a user name is given.

    Raises:
        LocalProtocolError: An empty user name, one or a password over 255 bytes, or
            a host name over 255 bytes.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        import socksio  # here: see the module doc

        self._login: tuple[bytes, bytes] | None = None
        if username is not None:
            login = (username.encode(), (password or "").encode())
            if not (0 < len(login[0]) <= 255 and len(login[1]) <= 255):
                # Not quoted: it is a credential.
                raise LocalProtocolError(
                    "a SOCKS5 user name is 1 to 255 bytes, and its password at most 255"
                )
            self._login = login
        try:
            self._command = socksio.SOCKS5CommandRequest.from_address(
                socksio.SOCKS5Command.CONNECT, (host, port)
            )
        except (ValueError, socksio.SOCKSError) as exc:
            raise LocalProtocolError(f"cannot ask a SOCKS5 proxy for {host!r}: {exc}") from None
        if len(self._command.addr) > 255:
            raise LocalProtocolError("a host name sent to a SOCKS5 proxy is at most 255 bytes")
        self._socks = socksio.SOCKS5Connection()
        methods = [socksio.SOCKS5AuthMethod.NO_AUTH_REQUIRED]
        if self._login is not None:
            methods.append(socksio.SOCKS5AuthMethod.USERNAME_PASSWORD)
        self._socks.send(socksio.SOCKS5AuthMethodsRequest(methods))
        self._step = _Step.GREETING
        self._received = bytearray()
        self._eof = False
        self._end: TunnelEvent | None = None

    def data_to_send(self) -> bytes:
        """The bytes to send now (the next message, once its turn has come)."""
        return self._socks.data_to_send()

    def receive_data(self, data: bytes) -> None:
        """Pass bytes read from the proxy; ``b""`` means it closed the connection."""
        if not data:
            self._eof = True
        elif self._end is None:
            self._received += data

    def next_event(self) -> TunnelEvent | NeedData:
        """:class:`TunnelOpened`, :class:`TunnelRefused`, or
        :data:`~purai_proto.NEED_DATA`; either way, send what :meth:`data_to_send`
        returns next (a reply read here may have made the next message).

        Raises:
            RemoteProtocolError: A malformed reply, or the proxy closed the connection
                before the handshake was done.
        """
        import socksio  # loaded by __init__ already: a lookup in sys.modules

        while self._end is None:
            size = self._reply_size()
            if size is None or len(self._received) < size:
                if self._eof:
                    raise RemoteProtocolError(
                        f"the SOCKS5 proxy closed the connection during {self._step.value}"
                    )
                return NEED_DATA
            reply = bytes(self._received[:size])
            del self._received[:size]
            if self._step is _Step.GREETING and reply[0] != 5:  # socksio lets it by
                raise RemoteProtocolError(
                    f"the SOCKS5 proxy's reply to the greeting is invalid: version {reply[0]}"
                )
            try:
                self._end = self._on_reply(self._socks.receive_data(reply))
            except (socksio.SOCKSError, ValueError) as exc:
                raise RemoteProtocolError(
                    f"the SOCKS5 proxy's reply to {self._step.value} is invalid: {exc}"
                ) from None
        return self._end

    def _reply_size(self) -> int | None:
        """How long the awaited reply is, or None until enough of it came to tell."""
        if self._step is not _Step.CONNECT:
            return 2  # the method chosen, or the login's status: VER and one byte
        if len(self._received) < _REPLY_HEAD + 1:
            return None
        atype = self._received[3]
        # A name (3) carries its length first; socksio refuses an unknown type.
        address = 1 + self._received[4] if atype == 3 else _ADDRESS_SIZES.get(atype, 0)
        return _REPLY_HEAD + address + 2

    def _on_reply(self, reply: object) -> TunnelEvent | None:
        """The next step for ``reply``; the end, once there is one."""
        import socksio
        from socksio.socks5 import SOCKS5UsernamePasswordReply

        if isinstance(reply, socksio.SOCKS5AuthReply):
            method = reply.method
            if method == socksio.SOCKS5AuthMethod.USERNAME_PASSWORD and self._login:
                self._step = _Step.LOGIN
                self._socks.send(socksio.SOCKS5UsernamePasswordRequest(*self._login))
                return None
            if method != socksio.SOCKS5AuthMethod.NO_AUTH_REQUIRED:
                why = "asks for credentials" if self._login is None else "accepts no login offered"
                return TunnelRefused(status=0, reason=f"the proxy {why}")
        elif isinstance(reply, SOCKS5UsernamePasswordReply):
            if not reply.success:
                return TunnelRefused(status=0, reason="the proxy refused the user name or password")
        elif isinstance(reply, socksio.SOCKS5Reply):
            code = reply.reply_code[0]
            if code:
                reason = _REPLY_REASONS.get(code, "unknown reply code")
                return TunnelRefused(status=code, reason=reason)
            return TunnelOpened(data=bytes(self._received))
        self._step = _Step.CONNECT
        self._socks.send(self._command)
        return None
