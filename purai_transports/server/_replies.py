"""What the stand-in PurAI server answers: replies, model lists and error bodies.

Theory of operation
-------------------
PurAI is shut down, so the project ships a stand-in server, and this module is the
whole of what it says; the server only moves these values over HTTP. Everything here
is a pure function of its arguments (no clock, no randomness), so that a test can
predict every byte of a reply.

The PurAI dialect copies the seed page exactly: five-character pieces, the id
``chatcmpl-QXlha2FBbmROaXhpZUFyZUF3ZXNvbWUK`` (base64 of ``AyakaAndNixieAreAwesome``:
PurAI sent one id for every reply), ``created`` 0, a zero ``usage``, provider
``Churchless``, a ``cache`` report of failed providers, and ``finish_reason`` null to
the end. The OpenAI dialect is what OpenAI's own client expects: ``role`` in the
first chunk, ``finish_reason: "stop"`` in the last, and none of PurAI's fields.
"""

from __future__ import annotations

import base64
import hashlib
import math
from http import HTTPStatus
from typing import Any, Literal

import msgspec

from purai_proto import (
    CacheReport,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    ErrorDetail,
    LocalProtocolError,
    Message,
    Usage,
)

__all__ = [
    "CACHE_MESSAGE",
    "DEFAULT_CHUNK_SIZE",
    "PURAI_COMPLETION_ID",
    "PURAI_PROVIDER",
    "Dialect",
    "ModelInfo",
    "completion",
    "error_body",
    "openai_models",
    "purai_models",
    "reply_text",
    "split_tokens",
    "stream_chunks",
    "stream_error_body",
]

Dialect = Literal["purai", "openai"]

#: The seed's pieces are five characters long ("AI la", "nguag", "e mod", "el.").
DEFAULT_CHUNK_SIZE = 5
#: The seed's completion id.
PURAI_COMPLETION_ID = "chatcmpl-QXlha2FBbmROaXhpZUFyZUF3ZXNvbWUK"
#: The upstream provider the seed names.
PURAI_PROVIDER = "Churchless"
#: The message of the seed's ``cache`` report.
CACHE_MESSAGE = (
    "Some of our providers returned with errors. Errors are automatically reported to "
    "our developers."
)

_DEFAULT_MODEL = "gpt-3.5-turbo"
# PurAI answered with the dated snapshot of the model asked for, as OpenAI did then.
_SNAPSHOTS = {"gpt-3.5-turbo": "gpt-3.5-turbo-0301", "gpt-4": "gpt-4-0314"}
_ECHO_CHARS = 200  # the longest piece of a prompt that a reply repeats

# Text that breaks parsers which split a stream on "}{" or scan JSON naively: "}{",
# unbalanced braces, quotes, backslashes and escapes, LaTeX, a non-ASCII letter (two
# bytes of UTF-8) and an emoji (four bytes of UTF-8, a surrogate pair in \\u escapes).
_CODE_REPLY = (
    "Here is some code:\n"
    "```python\n"
    'def braces(s: str) -> str:\n    return s.replace("}{", "} {")  # "}{" splits nothing\n'
    "\n"
    'print(braces("{\\"a\\": 1}{\\"b\\": 2}"), r"C:\\temp\\new", "\\\\", \'{\', \'}\')\n'
    "```\n"
    "And the math: $\\frac{a}{b} = \\left\\{x \\mid x > 0\\right\\}$, caf\u00e9 \U0001f680."
)


def _prompt(request: ChatRequest) -> str:
    """The text of the last user message, or ``""``."""
    for message in reversed(request.messages):
        if message.role == "user" and isinstance(message.content, str):
            return message.content
    return ""


def reply_text(request: ChatRequest) -> str:
    """The reply the stand-in server gives to ``request``, the same every time.

    Args:
        request: The chat request; only its last user message matters.

    Returns:
        ``"AI language model."`` when asked who it is (the seed's exchange); a reply
        full of ``}{``, quotes, backslashes and multi-byte characters when the prompt
        mentions code; otherwise a sentence repeating the prompt.
    """
    prompt = _prompt(request)
    words = " ".join(prompt.lower().split())
    if "who are you" in words:
        return "AI language model."
    if "code" in words:
        return _CODE_REPLY
    if not words:
        return "Hello! I am the purai stand-in server. Ask me anything."
    echo = " ".join(prompt.split())
    if len(echo) > _ECHO_CHARS:
        echo = echo[: _ECHO_CHARS - 3] + "..."
    return f'You said: "{echo}". I am the purai stand-in server, so I only repeat it.'


def split_tokens(text: str, size: int = DEFAULT_CHUNK_SIZE) -> list[str]:
    """``text`` cut into pieces of ``size`` characters, as a model streams tokens.

    A piece never ends between the two halves of a surrogate pair (a string decoded
    with ``surrogatepass`` can hold them), so every piece can be encoded on its own.

    Args:
        text: The text to cut.
        size: Characters per piece, at least 1; the last piece may be shorter and a
            piece one longer, to keep a surrogate pair whole.

    Returns:
        The pieces, which join to ``text``; none for ``""``.

    Raises:
        LocalProtocolError: ``size`` is less than 1.
    """
    if size < 1:
        raise LocalProtocolError(f"the piece size must be at least 1, not {size}")
    pieces: list[str] = []
    start, end = 0, len(text)
    while start < end:
        stop = min(start + size, end)
        if stop < end and "\ud800" <= text[stop - 1] <= "\udbff" <= text[stop] <= "\udfff":
            stop += 1
        pieces.append(text[start:stop])
        start = stop
    return pieces


def _model(request: ChatRequest) -> str:
    name = request.model or request.personality or _DEFAULT_MODEL
    return _SNAPSHOTS.get(name, name)


def _count_tokens(text: str) -> int:
    # A rough count, about four characters a token as OpenAI's rule of thumb says.
    return math.ceil(len(text) / 4)


def _usage(request: ChatRequest, text: str) -> Usage:
    prompt = sum(_count_tokens(m.text) for m in request.messages)
    completion = _count_tokens(text)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _openai_id(request: ChatRequest, text: str) -> str:
    # Derived from the exchange, so the same request gets the same id.
    seed = "\0".join((_model(request), _prompt(request), text))
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass"))
    return "chatcmpl-" + base64.urlsafe_b64encode(digest.digest()[:18]).decode("ascii")


def _cache_report() -> CacheReport:
    return CacheReport(status=500, error=ErrorDetail(message=CACHE_MESSAGE, records=[]))


def stream_chunks(
    request: ChatRequest,
    text: str,
    *,
    dialect: Dialect = "purai",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> list[ChatCompletionChunk]:
    """The chunks of a streamed reply carrying ``text``.

    Args:
        request: The chat request (for the model name, and the id in OpenAI's dialect).
        text: The reply's text, usually :func:`reply_text`.
        dialect: ``"purai"``: one chunk per piece, exactly as the seed shows them.
            ``"openai"``: a first chunk with ``role: "assistant"``, one per piece, and
            a last one with ``finish_reason: "stop"`` (then one with ``usage`` when
            ``stream_options.include_usage`` asks for it).
        chunk_size: Characters per piece.

    Returns:
        The chunks, in order.

    Raises:
        LocalProtocolError: An unknown dialect, or ``chunk_size`` less than 1.
    """
    pieces = split_tokens(text, chunk_size)
    model = _model(request)
    if dialect == "purai":
        cache = _cache_report()
        return [
            ChatCompletionChunk(
                id=PURAI_COMPLETION_ID,
                object="chat.completion",
                created=0,
                model=model,
                usage=Usage(),
                choices=[ChunkChoice(index=0, delta=Delta(content=piece), finish_reason=None)],
                provider=PURAI_PROVIDER,
                overwritten=False,
                cache=cache,
                called_functions=[],
            )
            for piece in pieces
        ]
    if dialect != "openai":
        raise LocalProtocolError(f"unknown dialect {dialect!r}; expected 'purai' or 'openai'")
    chunk_id = _openai_id(request, text)

    def chunk(delta: Delta, finish_reason: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=chunk_id,
            object="chat.completion.chunk",
            created=0,
            model=model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        )

    chunks = [chunk(Delta(role="assistant", content=""))]
    chunks.extend(chunk(Delta(content=piece)) for piece in pieces)
    chunks.append(chunk(Delta(), "stop"))
    options = request.stream_options
    if options is not None and options.include_usage is True:
        chunks.append(
            ChatCompletionChunk(
                id=chunk_id,
                object="chat.completion.chunk",
                created=0,
                model=model,
                choices=[],
                usage=_usage(request, text),
            )
        )
    return chunks


def completion(request: ChatRequest, text: str, dialect: Dialect = "purai") -> ChatCompletion:
    """The non-streamed reply carrying ``text`` (what ``"stream": false`` gets).

    Args:
        request: The chat request.
        text: The reply's text.
        dialect: ``"purai"`` adds PurAI's fields (``provider``, ``overwritten``,
            ``cache``, ``calledFunctions``); ``"openai"`` leaves them out.

    Returns:
        The reply, with ``finish_reason: "stop"`` and estimated token counts.

    Raises:
        LocalProtocolError: An unknown dialect.
    """
    if dialect not in ("purai", "openai"):
        raise LocalProtocolError(f"unknown dialect {dialect!r}; expected 'purai' or 'openai'")
    purai = dialect == "purai"
    return ChatCompletion(
        id=PURAI_COMPLETION_ID if purai else _openai_id(request, text),
        object="chat.completion",
        created=0,
        model=_model(request),
        choices=[
            Choice(index=0, message=Message(role="assistant", content=text), finish_reason="stop")
        ],
        usage=_usage(request, text),
        provider=PURAI_PROVIDER if purai else None,
        overwritten=False,
        cache=_cache_report() if purai else None,
        called_functions=[],
    )


# --- models ---------------------------------------------------------------------------


class ModelInfo(msgspec.Struct, frozen=True):
    """One entry of PurAI's ``GET /<company>/models`` list."""

    id: str
    owner: str
    endpoints: list[str]
    max_tokens: int = msgspec.field(name="maxTokens")
    free_limit_per_day: int = msgspec.field(name="freeLimitPerDay")
    available: bool = True


_OPENAI = ["/openai/chat/completions", "/third-party/chat/completions", "/auto/chat/completions"]
_ANTHROPIC = ["/anthropic/chat/completions", "/auto/chat/completions"]
_THIRD_PARTY = ["/third-party/chat/completions", "/auto/chat/completions"]
_MODELS = (
    ModelInfo("gpt-3.5-turbo", "openai", _OPENAI, 4096, 500),
    ModelInfo("gpt-3.5-turbo-16k", "openai", _OPENAI, 16384, 200),
    ModelInfo("gpt-4", "openai", _OPENAI, 8192, 50),
    ModelInfo("gpt-4-32k", "openai", _OPENAI, 32768, 0, available=False),
    ModelInfo("claude-2", "anthropic", _ANTHROPIC, 100000, 100),
    ModelInfo("claude-instant-1", "anthropic", _ANTHROPIC, 100000, 500),
    ModelInfo("llama-2-70b-chat", "meta", _THIRD_PARTY, 4096, 500),
)


def purai_models(company: str) -> list[ModelInfo] | None:
    """The models served under ``/<company>/chat/completions``.

    Args:
        company: ``openai``, ``anthropic``, ``third-party`` or ``auto``.

    Returns:
        The list PurAI's ``GET /<company>/models`` gave, or ``None`` for an unknown
        company.
    """
    endpoint = f"/{company}/chat/completions"
    models = [model for model in _MODELS if endpoint in model.endpoints]
    return models or None


def openai_models() -> dict[str, Any]:
    """The body of OpenAI's ``GET /v1/models``: every available model."""
    return {
        "object": "list",
        "data": [
            {"id": model.id, "object": "model", "created": 0, "owned_by": model.owner}
            for model in _MODELS
            if model.available
        ],
    }


# --- errors ---------------------------------------------------------------------------

# PurAI's messages where its documentation records them.
_PURAI_MESSAGES = {
    429: "Too many requests. The free tier allows 10 requests every 10 seconds.",
    500: "All of our providers returned with errors. Errors are automatically reported to "
    "our developers.",
    503: "Model is not available at the moment.",
}
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def error_body(status: int, message: str | None = None, *, dialect: Dialect = "purai") -> Any:
    """The body of an HTTP error reply, in the dialect's shape.

    Args:
        status: The HTTP status.
        message: What went wrong; PurAI's own message for ``status`` when omitted.
        dialect: ``"purai"``: ``{"status", "error": "..."}`` (a 500 carries PurAI's
            ``{"message", "records"}`` object instead); ``"openai"``:
            ``{"error": {"message", "type", "param", "code"}}``.

    Returns:
        A value to encode as JSON.
    """
    if message is None:
        try:
            default = HTTPStatus(status).phrase
        except ValueError:
            default = "Error"
        message = _PURAI_MESSAGES.get(status, default)
    if dialect == "openai":
        kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "api_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    if status == 500:
        return stream_error_body(message)
    return {"status": status, "error": message}


def stream_error_body(message: str, *, dialect: Dialect = "purai") -> Any:
    """An error object sent inside a stream that began with status 200.

    Args:
        message: What went wrong.
        dialect: ``"purai"``: ``{"status": 500, "error": {"message", "records": []}}``;
            ``"openai"``: ``{"error": {"message", "type", "param", "code"}}``.

    Returns:
        A value to encode as JSON.
    """
    if dialect == "openai":
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return {"status": 500, "error": {"message": message, "records": []}}
