"""What the blocking and the async clients share: settings, and what a stream shows.

The client logic itself is in :mod:`purai_transports._core.exchange`; the clients only
choose a backend and a runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from purai_proto import ChatCompletion, ChatRequest, HttpParserName

from .client_core import ClientCore
from .exchange import Exchange
from .paths import default_base_url
from .settings import Timeout

__all__ = ["ClientBase", "StreamView"]


class ClientBase:
    """A client for a PurAI or OpenAI-compatible server.

    Args:
        base_url: ``http[s]://host[:port][/prefix]``; defaults to the
            ``PURAI_BASE_URL`` environment variable.
        api_key: Sent as ``Authorization: Bearer``; defaults to ``PURAI_API_KEY``.
        timeout: A :class:`~purai_transports.Timeout` (its defaults unless given),
            one number of seconds for connecting, each read, each write and the gap
            between chunks, or ``None`` for no limits at all.
        max_retries: Retries of a failed connection or a 429/502/503/504 reply
            (never once a stream began).
        retry_backoff: The first retry's wait in seconds; each further one doubles
            it, and a ``Retry-After`` asking for longer wins (up to 60 s: a reply
            asking for more is raised at once).
        headers: Extra header fields sent with every request.
        verify: TLS verification: ``True`` (the system's trust store), ``False``
            (none; only for tests), or an ``ssl.SSLContext``.
        max_keepalive: Idle connections kept for reuse.
        keepalive_expiry: Seconds an idle connection is kept.
        resend_unanswered: Send a request once more, on a new connection, when the
            reused connection it was written on closed before any byte of reply (the
            keep-alive race). Off by default, since the server may have processed it:
            such a request raises :class:`~purai_transports.ServerDisconnectedError`.
            A request the server cannot have received whole is re-sent either way.
        http_parser: Which parser reads responses: ``"auto"`` (httptools when it is
            installed, else h11), ``"h11"`` or ``"httptools"``.

    Raises:
        LocalProtocolError: A bad argument, before any connection is made.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: Timeout | float | None = Timeout(),  # noqa: B008 - frozen
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        verify: Any = True,
        max_keepalive: int = 10,
        keepalive_expiry: float = 5.0,
        resend_unanswered: bool = False,
        http_parser: HttpParserName = "auto",
    ) -> None:
        self._core = ClientCore(
            default_base_url(base_url),
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=retry_backoff,
            headers=headers,
            max_keepalive=max_keepalive,
            keepalive_expiry=keepalive_expiry,
            resend_unanswered=resend_unanswered,
            http_parser=http_parser,
        )
        self._backend = self._make_backend(verify)

    def _make_backend(self, verify: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._core.describe(self)

    def _exchange(
        self,
        request: ChatRequest | None,
        fields: dict[str, Any],
        *,
        path: str,
        stream: bool,
        headers: Mapping[str, str] | None,
        accumulate: bool = True,
    ) -> Exchange:
        return self._core.exchange(
            request, fields, path=path, stream=stream, headers=headers, accumulate=accumulate
        )


class StreamView:
    """What a stream shows of its reply while and after it is read."""

    _exchange: Exchange

    @property
    def completion(self) -> ChatCompletion:
        """The reply so far, folded into one :class:`~purai_proto.ChatCompletion`; the
        whole reply once the iteration ended.

        Raises:
            LocalProtocolError: The stream was opened with ``accumulate=False``.
        """
        return self._exchange.completion_so_far()

    @property
    def text(self) -> str:
        """The text of the first choice so far."""
        return self.completion.text
