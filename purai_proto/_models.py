"""Wire models: the JSON bodies of PurAI's chat API and OpenAI's, as msgspec Structs.

Theory of operation
-------------------
Every body a server sends is decoded straight into these Structs by msgspec, in C.
Three rules keep that robust against the servers that exist in the wild:

* Unknown fields are ignored (msgspec's default), so a server may add fields.
* Every field has a default, so a server may leave any field out.
* Response types are built with ``gc=False``: decoded JSON cannot form reference
  cycles, and skipping the garbage collector's bookkeeping is measurably faster.

Request types use ``omit_defaults=True`` so that a field left unset is not sent at
all (not sent as ``null``); PurAI and many OpenAI-compatible servers treat an
explicit ``null`` differently from an absent field.

PurAI's own fields are camelCase on the wire (``calledFunctions``); here they get
snake_case attribute names with the wire name given explicitly.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from ._content import ContentPart, text_of
from ._request_options import (
    AudioOptions,
    Prediction,
    ReasoningEffort,
    ResponseFormat,
    StreamOptions,
    WebSearchOptions,
)

__all__ = [
    "CacheReport",
    "CalledFunction",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChoiceLogprobs",
    "ChunkChoice",
    "CompletionTokensDetails",
    "Delta",
    "ErrorBody",
    "ErrorDetail",
    "FunctionCall",
    "FunctionDefinition",
    "Message",
    "Model",
    "ModelList",
    "PromptTokensDetails",
    "ProviderRecord",
    "ProviderResponse",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "TopLogprob",
    "Usage",
]

Role = Literal["system", "user", "assistant", "function", "tool", "developer"]


class _Response(msgspec.Struct, gc=False):
    """Base of every decoded response part: no GC tracking, unknown fields ignored."""


class _Request(msgspec.Struct, omit_defaults=True):
    """Base of every request part: fields left at their default are not sent."""


# --- shared parts -------------------------------------------------------------------


class FunctionCall(_Request, gc=False):
    """A function call, whole (in a message) or as a streamed fragment (in a delta).

    In a stream the first fragment usually carries ``name`` and the later ones
    pieces of ``arguments``, a JSON text that is only valid once all pieces are joined.
    """

    name: str | None = None
    arguments: str | None = None


class ToolCall(_Request, gc=False):
    """A tool call, whole or as a streamed fragment merged with others by ``index``."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None


class Message(_Request):
    """One message of a conversation (request) or of a non-streamed reply.

    ``role`` has no default because it must always be sent. ``content`` is a string,
    or a list of parts (:class:`TextPart`, :class:`ImageURLPart`,
    :class:`InputAudioPart`, :class:`FilePart`, :class:`RefusalPart`).

    ``reasoning_content`` is the reasoning text that came before the answer (DeepSeek's
    name; :class:`~purai_proto.StreamAccumulator` puts it there whichever field
    carried it). Sent back in a later request it lets a conversation go on where a
    server asks for it; ``reasoning`` is the same text under OpenRouter's and Ollama's
    name, read from a non-streamed reply.
    """

    role: Role | str
    content: str | list[ContentPart] | None = None
    name: str | None = None
    function_call: FunctionCall | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    audio: dict[str, Any] | None = None
    annotations: list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        """The text of ``content``: the string, or its text parts joined; ``""`` if none."""
        return text_of(self.content)


CalledFunction = tuple[FunctionCall, Message]
"""PurAI's report of one function the server ran itself: the call and its result.

On the wire a pair ``[{name, arguments}, {role: "function", name, content}]``, ready to
be appended to the conversation.
"""


class PromptTokensDetails(_Response):
    """What the prompt's tokens were. Counts are ``None`` where a server sends none
    (or ``null``, as some do)."""

    cached_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(_Response):
    """What the reply's tokens were: ``reasoning_tokens`` are the hidden or streamed
    reasoning, counted in ``completion_tokens``."""

    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class Usage(_Response):
    """Token counts. PurAI sends zeros in every streamed chunk."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class TopLogprob(_Response):
    """One of the likeliest tokens at a position, with its log probability."""

    token: str = ""
    logprob: float | None = None
    bytes: list[int] | None = None  # the token's UTF-8 bytes: a token may split a character


class TokenLogprob(_Response):
    """A token of the reply, its log probability and the likeliest alternatives
    (as many as ``top_logprobs`` asked for)."""

    token: str = ""
    logprob: float | None = None
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(_Response):
    """A choice's ``logprobs``: one entry per token of its content (or refusal)."""

    content: list[TokenLogprob] | None = None
    refusal: list[TokenLogprob] | None = None


class ProviderResponse(_Response):
    """What an upstream provider answered: a status and anything at all as data."""

    status: int | None = None
    data: Any = None


class ProviderRecord(_Response):
    """One provider that failed before another one answered."""

    provider: str | None = None
    response: ProviderResponse | None = None


class ErrorDetail(_Response):
    """The object form of an error: OpenAI's ``{message, type, param, code}`` and
    PurAI's ``{message, records}``."""

    message: str = ""
    type: str | None = None
    param: str | None = None
    code: str | int | None = None
    records: list[ProviderRecord] = []


class CacheReport(_Response):
    """PurAI's ``cache`` field. Despite the name, not a cache: the log of providers
    that failed before one succeeded ("Some of our providers returned with errors")."""

    status: int | None = None
    error: ErrorDetail | str | None = None


# --- replies ----------------------------------------------------------------------


class _Reply(_Response):
    """The fields a whole reply and each streamed chunk share: OpenAI's metadata and
    PurAI's additions, sent again with every chunk."""

    id: str = ""
    object: str = ""
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    # Given its type by each subclass; declared here to keep the seed's field order.
    choices: list[Any] = []
    system_fingerprint: str | None = None
    service_tier: str | None = None
    provider: str | None = None
    overwritten: bool = False
    cache: CacheReport | None = None
    called_functions: list[CalledFunction] = msgspec.field(default=[], name="calledFunctions")


# --- streamed chunks ----------------------------------------------------------------


class Delta(_Response):
    """What one chunk adds to one choice.

    The reasoning text comes as ``reasoning_content`` (DeepSeek, vLLM, SGLang, Qwen,
    GLM) or as ``reasoning`` (OpenRouter, Ollama, newer vLLM, which for a while sent
    both with the same text); :attr:`ChatCompletionChunk.reasoning` reads either.
    """

    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    function_call: FunctionCall | None = None
    tool_calls: list[ToolCall] | None = None


class ChunkChoice(_Response):
    """One choice of a streamed chunk.

    ``message`` is set only when a server answered a streamed request with a whole,
    non-streamed reply: the chunk then carries everything at once, and its text and
    :class:`~purai_proto.StreamAccumulator` read ``message`` instead of ``delta``.
    """

    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None
    message: Message | None = None


class ChatCompletionChunk(_Reply):
    """One streamed chunk, in PurAI's dialect (``object: "chat.completion"``, with
    ``provider``, ``overwritten``, ``cache`` and ``calledFunctions`` in every chunk) or in
    OpenAI's (``object: "chat.completion.chunk"``).

    ``error`` and ``status`` are not part of a chunk: they are there so that an error
    object sent in place of a chunk (``{"status": 500, "error": ...}`` or
    ``{"error": {...}}``) is recognised as one instead of passing for an empty chunk.
    :class:`~purai_proto.ChunkDecoder` turns such objects into :class:`ErrorBody`.
    """

    choices: list[ChunkChoice] = []
    error: ErrorDetail | str | None = None
    status: int | None = None

    @property
    def text(self) -> str:
        """The text this chunk adds to the first choice (index 0); ``""`` if none."""
        for choice in self.choices:
            if choice.index == 0:
                if choice.message is not None:
                    return choice.message.text
                return choice.delta.content or ""
        return ""

    @property
    def reasoning(self) -> str:
        """The reasoning text this chunk adds to the first choice; ``""`` if none.

        From ``reasoning_content`` or, when that is empty, ``reasoning``: never both,
        as the servers that send both send the same text twice.
        """
        for choice in self.choices:
            if choice.index == 0:
                part = choice.delta if choice.message is None else choice.message
                return part.reasoning_content or part.reasoning or ""
        return ""


# --- non-streamed reply -------------------------------------------------------------


class Choice(_Response):
    """One choice of a non-streamed reply."""

    index: int = 0
    message: Message = msgspec.field(default_factory=lambda: Message(role="assistant"))
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(_Reply):
    """A whole reply: what a server sends when ``stream`` is false, and what
    :class:`~purai_proto.StreamAccumulator` builds from a stream."""

    object: str = "chat.completion"
    choices: list[Choice] = []

    @property
    def text(self) -> str:
        """The text of the first choice (index 0); ``""`` if none."""
        for choice in self.choices:
            if choice.index == 0:
                return choice.message.text
        return ""

    @property
    def reasoning(self) -> str:
        """The reasoning text of the first choice (``reasoning_content``, else
        ``reasoning``); ``""`` if none."""
        for choice in self.choices:
            if choice.index == 0:
                message = choice.message
                return message.reasoning_content or message.reasoning or ""
        return ""


# --- errors -------------------------------------------------------------------------


class ErrorBody(_Response):
    """An error as a server sends it, in any of the shapes seen in the wild:

    * PurAI: ``{"status": 503, "error": "Model is not available at the moment."}``
    * PurAI: ``{"status": 500, "error": {"message": "...", "records": [...]}}``
    * PurAI: ``{"status": 500, "message": "...", "records": [...]}``
    * OpenAI: ``{"error": {"message": "...", "type": "...", "param": null, "code": "..."}}``

    It is what an HTTP error reply's body decodes to, and what
    :class:`~purai_proto.ChunkDecoder` yields for an error object inside a stream.
    """

    status: int | None = None
    error: ErrorDetail | str | None = None
    message: str | None = None
    records: list[ProviderRecord] = []

    @property
    def summary(self) -> str:
        """The server's message, whichever shape carried it."""
        if isinstance(self.error, ErrorDetail) and self.error.message:
            return self.error.message
        if isinstance(self.error, str) and self.error:
            return self.error
        return self.message or "unknown error"

    @property
    def provider_records(self) -> list[ProviderRecord]:
        """The failed providers PurAI listed, whichever shape carried them."""
        if isinstance(self.error, ErrorDetail) and self.error.records:
            return self.error.records
        return self.records


# --- models -------------------------------------------------------------------------


class Model(_Response):
    """One model a server offers: an entry of OpenAI's ``GET /v1/models`` list."""

    id: str = ""
    object: str = "model"
    created: int = 0
    owned_by: str = ""


class ModelList(_Response):
    """The body of OpenAI's ``GET /v1/models``: ``{"object": "list", "data": [...]}``."""

    object: str = "list"
    data: list[Model] = []


# --- requests -----------------------------------------------------------------------


class FunctionDefinition(_Request):
    """A function the model may call (``functions[]``, or inside a :class:`Tool`)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(_Request, omit_defaults=False):
    """A tool the model may call (``tools[]``). ``type`` is always sent: servers
    require it even though ``"function"`` is the only kind there is."""

    function: FunctionDefinition
    type: str = "function"


class ChatRequest(_Request):
    """The body of ``POST .../chat/completions``: OpenAI's fields and PurAI's additions.

    PurAI requires one of ``model`` and ``personality``. Every field left unset is
    left out of the JSON.

    ``extra_body`` is not a field of the wire format: its keys are merged into the
    JSON object at encoding, over the typed fields (its value wins where both give
    one), for the fields a server takes that are not typed here (vLLM's ``top_k``,
    OpenRouter's ``reasoning``, ...).
    """

    messages: list[Message] = []
    model: str | None = None
    stream: bool | None = None
    # OpenAI's fields, in the order of its API reference.
    audio: AudioOptions | None = None
    frequency_penalty: float | None = None
    function_call: str | dict[str, str] | None = None
    functions: list[FunctionDefinition] | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    metadata: dict[str, str] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    n: int | None = None
    parallel_tool_calls: bool | None = None
    prediction: Prediction | None = None
    presence_penalty: float | None = None
    prompt_cache_key: str | None = None
    reasoning_effort: ReasoningEffort | str | None = None
    response_format: ResponseFormat | None = None
    safety_identifier: str | None = None
    seed: int | None = None
    service_tier: str | None = None
    stop: str | list[str] | None = None
    store: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[Tool] | None = None
    top_logprobs: int | None = None
    top_p: float | None = None
    user: str | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    web_search_options: WebSearchOptions | None = None
    # PurAI's additions.
    personality: str | None = None
    disable_error_summarization: bool | None = msgspec.field(
        default=None, name="disableErrorSummarization"
    )
    primary_provider: str | None = msgspec.field(default=None, name="primaryProvider")
    force_model: Union[bool, Literal["auto"], None] = msgspec.field(  # noqa: UP007
        default=None, name="forceModel"
    )
    overwrite_on_error: bool | None = msgspec.field(default=None, name="overwriteOnError")
    fallbacks: list[str] | None = None
    # Not sent as a field: merged into the body (see the class's docstring).
    extra_body: dict[str, Any] | None = None
