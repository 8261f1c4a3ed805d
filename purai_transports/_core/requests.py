"""Building a request from what a client's ``stream()`` or ``complete()`` was given,
checked before any connection is made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk, ChatRequest, LocalProtocolError, Message, check_request

__all__ = ["QueryArg", "build_request", "check_chunk_type", "check_path", "check_query"]

QueryArg = Mapping[str, Any] | Iterable[tuple[str, Any]]
"""``extra_query``: a mapping, or ``(name, value)`` pairs."""

_FIELDS = {f.name: f for f in msgspec.structs.fields(ChatRequest)}


def check_path(path: str) -> str:
    """``path``, if it is a request path (it starts with ``/``)."""
    if not isinstance(path, str):
        raise LocalProtocolError(f"path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise LocalProtocolError(f"path must start with '/', not {path!r}")
    return path


def check_chunk_type(chunk_type: Any) -> None:
    """Refuse a chunk type the stream's accumulator cannot fold."""
    if chunk_type is Any or chunk_type is dict:
        return
    if not (isinstance(chunk_type, type) and issubclass(chunk_type, ChatCompletionChunk)):
        raise LocalProtocolError(
            "chunk_type must be ChatCompletionChunk, a subclass of it, dict or typing.Any, "
            f"not {chunk_type!r}"
        )


def check_query(query: QueryArg | None) -> list[tuple[str, Any]]:
    """``extra_query`` as ``(name, value)`` pairs, with every name a str."""
    if query is None:
        return []
    pairs: list[Any]
    try:
        pairs = list(query.items() if isinstance(query, Mapping) else query)
    except TypeError:
        pairs = [query]  # not iterable: refused below
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise LocalProtocolError(
                f"extra_query must be a mapping or (name, value) pairs, not {query!r}"
            )
    return pairs


def build_request(
    request: ChatRequest | None, fields: dict[str, Any], *, stream: bool
) -> ChatRequest:
    """A ChatRequest from a request and/or keyword fields (messages may be dicts)."""
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise LocalProtocolError(
            f"unknown request field(s): {', '.join(unknown)}; a field this library does "
            f"not know goes in extra_body, e.g. extra_body={{{unknown[0]!r}: ...}}"
        )
    if "messages" in fields:
        messages = fields["messages"]
        if not isinstance(messages, (list, tuple)):
            raise LocalProtocolError(
                f"messages must be a list of messages, not {type(messages).__name__}"
            )
        fields["messages"] = [
            m if isinstance(m, Message) else _convert(m, Message) for m in messages
        ]
    base = request if request is not None else ChatRequest()
    if "stream" not in fields and (request is None or request.stream is None or stream):
        fields["stream"] = stream
    try:
        built = msgspec.structs.replace(base, **fields)
        # Validate as the server will see it, so that a bad field fails here, with
        # the field's name, instead of as a 400 from the server.
        check_request(built)
        return msgspec.json.decode(msgspec.json.encode(built), type=ChatRequest)
    except (msgspec.ValidationError, TypeError) as exc:
        raise LocalProtocolError(f"invalid request: {exc}") from None


def _convert(value: Any, type_: type[Message]) -> Message:
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        raise LocalProtocolError(f"invalid message {value!r}: {exc}") from None
