"""``ClientCore``: what every client shares, whatever its transport.

The public clients (:mod:`.clients`) take the settings as keywords and pick a backend
and a runner; a ``ClientCore`` holds the :class:`~.settings.ClientSettings` (checked
when they were made, before any connection) and the :class:`~.pool.ConnectionPool`,
and makes each request's :class:`~.exchange.Exchange`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ClientConnection,
    LocalProtocolError,
    Model,
    ModelList,
    check_headers,
)

from .exchange import Exchange
from .paths import chat_path, models_path
from .pool import ConnectionPool
from .proxies import Route
from .requests import QueryArg, build_request, check_chunk_type, check_path, check_query
from .settings import ClientSettings, Timeout

__all__ = ["ClientCore"]


class ClientCore:
    """What every client shares: its settings and its pool of idle connections.

    Args:
        settings: The client's settings; their fields are read as they are.

    Attributes:
        settings: As given.
        origin: Where requests go (``settings.origin``).
        route: The origin and the proxy in between, if any: what the pool keys
            connections by.
        absolute_form: Requests are sent to an HTTP proxy in absolute form.
        timeout: ``settings.timeout``, a :class:`~.settings.Timeout`.
        pool: The idle connections.
        clock: Seconds, monotonic: ``time.monotonic`` unless a test gives its own.
        jitter: A number in [0, 1) for each backoff: ``random.random`` unless a test
            gives its own.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.origin = settings.origin
        self.route = Route(settings.origin, settings.via)
        self.timeout = Timeout.of(settings.timeout)  # already one: this only types it
        self.headers: Mapping[str, str] = settings.headers or {}
        proxy = settings.via
        # Requests sent to an HTTP proxy itself (absolute form) carry its credentials;
        # through a tunnel, only the CONNECT does.
        self.absolute_form = proxy is not None and proxy.forwards(settings.origin)
        authorization = proxy.authorization() if proxy is not None else None
        if self.absolute_form and authorization is not None:
            self.headers = {"Proxy-Authorization": authorization.decode(), **self.headers}
        self.pool = ConnectionPool(settings.max_keepalive, settings.keepalive_expiry)
        self.clock: Callable[[], float] = time.monotonic
        self.jitter: Callable[[], float] = random.random

    def describe(self, client: object) -> str:
        """The repr of ``client``: its class and origin, and never the API key, since
        reprs end up in logs."""
        key = "set" if self.settings.api_key else "none"
        via = f" proxy={self.route.proxy}" if self.route.proxy is not None else ""
        return f"<{type(client).__name__} {self.origin}{via} api_key={key}>"

    def exchange(
        self,
        request: ChatRequest | None,
        fields: dict[str, Any],
        *,
        path: str | None,
        stream: bool,
        headers: Mapping[str, str] | None = None,
        query: QueryArg | None = None,
        accumulate: bool = True,
        chunk_type: Any = ChatCompletionChunk,
        completion_type: Any = ChatCompletion,
    ) -> Exchange:
        """Prepare one chat request; nothing happens until its ``run()`` is driven.

        ``path=None`` is the base URL's chat endpoint (:func:`~.paths.chat_path`).
        """
        self._check_open()
        built = build_request(request, fields, stream=stream)
        check_chunk_type(chunk_type)
        return Exchange(
            self,
            built,
            self._target(path if path is not None else chat_path(self.origin)),
            self._headers(headers),
            query=check_query(query),
            accumulate=accumulate,
            wants_reply=not stream,
            chunk_type=chunk_type,
            completion_type=completion_type,
        )

    def models_exchange(
        self,
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: QueryArg | None = None,
    ) -> Exchange:
        """Prepare the ``GET`` of the models list; :func:`models_of` reads its reply."""
        self._check_open()
        return Exchange(
            self,
            None,
            self._target(path if path is not None else models_path(self.origin)),
            self._headers(headers),
            query=check_query(query),
            accumulate=False,
            wants_reply=True,
            completion_type=_ModelsReply,
        )

    def _check_open(self) -> None:
        if self.pool.closed:
            raise LocalProtocolError("the client is closed")

    def _target(self, path: str) -> str:
        return self.origin.prefix + check_path(path)

    def _headers(self, headers: Mapping[str, str] | None) -> Mapping[str, str]:
        """The client's headers, with one request's own over them."""
        if not headers:
            return self.headers
        check_headers(None, headers)
        return {**self.headers, **headers}

    def new_protocol(self) -> ClientConnection:
        """The protocol state for a new connection."""
        return ClientConnection(
            self.origin.host_header,
            http_parser=self.settings.http_parser,
            absolute_form=self.absolute_form,
        )


class _PuraiModel(msgspec.Struct, gc=False):
    """An entry of PurAI's ``GET /<company>/models``, a bare list: its owner is named
    ``owner``, not ``owned_by`` as OpenAI's is."""

    id: str = ""
    owner: str = ""


# OpenAI's {"object": "list", "data": [...]}, or PurAI's bare list.
_ModelsReply = ModelList | list[_PuraiModel]


def models_of(reply: ModelList | list[_PuraiModel]) -> list[Model]:
    """The models a ``GET`` of the list answered, in the server's order."""
    if isinstance(reply, ModelList):
        return reply.data
    return [Model(id=entry.id, owned_by=entry.owner) for entry in reply]
