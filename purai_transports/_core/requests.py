"""Building a request from what a client's ``stream()`` or ``complete()`` was given,
checked before any connection is made."""

from __future__ import annotations

from typing import Any

import msgspec

from purai_proto import ChatRequest, LocalProtocolError, Message, check_request

__all__ = ["build_request", "check_path"]

_FIELDS = {f.name: f for f in msgspec.structs.fields(ChatRequest)}


def check_path(path: str) -> str:
    """``path``, if it is a request path (it starts with ``/``)."""
    if not isinstance(path, str):
        raise LocalProtocolError(f"path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise LocalProtocolError(f"path must start with '/', not {path!r}")
    return path


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
