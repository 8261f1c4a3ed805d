"""``StreamAccumulator``: folds streamed chunks into the whole reply they make up.

What each part of a chunk contributes:

* ``choices[i].delta.content`` (and ``refusal``): text appended to choice ``index``.
* ``delta.reasoning_content``, or ``delta.reasoning`` when that is empty (servers
  that send both send the same text twice): reasoning text appended to the choice's
  ``message.reasoning_content``, whichever field carried it.
* ``logprobs``: the entries of ``content`` and ``refusal`` appended, in order.
* ``delta.role``: the choice's role; the first one sent counts.
* ``delta.function_call``: the first fragment names the function, every fragment may
  add a piece of ``arguments``, a JSON text that is only valid once all pieces are
  joined.
* ``delta.tool_calls``: fragments merged by their ``index``. The first fragment of a
  call carries ``id``, ``type`` and the function's name; the later ones pieces of its
  arguments. (A fragment without an index continues the last call, or starts a new one
  when it brings a new ``id``.)
* ``finish_reason``: the last one sent.
* Per reply: ``id``, ``model``, ``created``, ``system_fingerprint`` and ``service_tier``
  from the first chunk that has them; ``usage`` from the last chunk that has it (OpenAI
  sends it once, in a last chunk with no choices; PurAI sends zeros in every chunk, and
  zeros never replace real counts); ``provider``, ``cache`` and ``calledFunctions`` from
  the last chunk that has them (PurAI repeats them in every chunk, so joining them would
  repeat them); ``overwritten`` if any chunk says so.

Texts are kept as lists of pieces and joined once, when the reply is built, so a long
reply costs linear time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Union

import msgspec

from ._content import text_of
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import ChunkReceived, CompletionReceived, CompletionT, Event, NeedData
from ._models import (
    CacheReport,
    CalledFunction,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChoiceLogprobs,
    FunctionCall,
    Message,
    TokenLogprob,
    ToolCall,
    Usage,
)

__all__ = ["StreamAccumulator"]


class _Text:
    """Text that arrives in many small pieces, kept compact.

    A stream brings a few characters per chunk, and a ``str`` per piece costs about
    50 bytes besides its text (measured: 9 times the text over a long stream). So the
    pieces are joined into blocks as they pile up: memory stays close to the text's
    own size, and no piece is copied more than twice.
    """

    __slots__ = ("_blocks", "_pieces")

    _BLOCK = 512  # pieces per block

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []

    def append(self, piece: str) -> None:
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) >= self._BLOCK:
            self._blocks.append("".join(pieces))
            pieces.clear()

    def __bool__(self) -> bool:
        return bool(self._pieces or self._blocks)

    def join(self) -> str:
        return "".join(self._blocks) + "".join(self._pieces)


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self, id: str | None) -> None:
        self.id = id
        self.type: str | None = None
        self.name: str | None = None
        self.arguments = _Text()

    def build(self) -> ToolCall:
        function = FunctionCall(name=self.name, arguments=self.arguments.join())
        # No index: the whole call is what a conversation sends back to the server.
        return ToolCall(id=self.id, type=self.type or "function", function=function)


class _ChoiceParts:
    __slots__ = (
        "content",
        "finish_reason",
        "function_arguments",
        "function_name",
        "has_function_call",
        "last_tool_index",
        "logprobs",
        "reasoning",
        "refusal",
        "role",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.role: str | None = None
        self.content = _Text()
        self.reasoning = _Text()
        self.refusal = _Text()
        self.logprobs: ChoiceLogprobs | None = None
        self.has_function_call = False
        self.function_name: str | None = None
        self.function_arguments = _Text()
        self.tool_calls: dict[int, _ToolCallParts] = {}
        self.last_tool_index = -1
        self.finish_reason: str | None = None

    def add_function_call(self, fragment: FunctionCall) -> None:
        self.has_function_call = True
        if fragment.name and not self.function_name:
            self.function_name = fragment.name
        if fragment.arguments:
            self.function_arguments.append(fragment.arguments)

    def add_tool_call(self, fragment: ToolCall) -> None:
        index = fragment.index
        if index is None:
            # No index: a new id or a second name starts a new call (see the module
            # doc); anything else continues the last.
            last = self.tool_calls.get(self.last_tool_index)
            name = fragment.function.name if fragment.function is not None else None
            if (
                last is None
                or (fragment.id is not None and fragment.id != last.id)
                or (name and last.name)
            ):
                index = max(self.tool_calls, default=-1) + 1
            else:
                index = self.last_tool_index
        self.last_tool_index = index
        call = self.tool_calls.get(index)
        if call is None:
            call = self.tool_calls[index] = _ToolCallParts(fragment.id)
        elif fragment.id and not call.id:
            call.id = fragment.id
        if fragment.type and not call.type:
            call.type = fragment.type
        function = fragment.function
        if function is not None:
            if function.name and not call.name:
                call.name = function.name
            if function.arguments:
                call.arguments.append(function.arguments)

    def add_logprobs(self, logprobs: ChoiceLogprobs) -> None:
        folded = self.logprobs
        if folded is None:
            folded = self.logprobs = ChoiceLogprobs()
        if logprobs.content:
            folded.content = folded.content or []
            folded.content += logprobs.content
        if logprobs.refusal:
            folded.refusal = folded.refusal or []
            folded.refusal += logprobs.refusal

    def build(self, index: int) -> Choice:
        message = Message(
            role=self.role or "assistant",
            content=self.content.join() if self.content else None,
            refusal=self.refusal.join() if self.refusal else None,
            reasoning_content=self.reasoning.join() if self.reasoning else None,
        )
        if self.has_function_call:
            message.function_call = FunctionCall(
                name=self.function_name, arguments=self.function_arguments.join()
            )
        if self.tool_calls:
            message.tool_calls = [self.tool_calls[i].build() for i in sorted(self.tool_calls)]
        logprobs = self.logprobs
        if logprobs is not None:  # a copy: the lists grow with the chunks still to come
            logprobs = ChoiceLogprobs(
                content=_copy(logprobs.content), refusal=_copy(logprobs.refusal)
            )
        return Choice(
            index=index, message=message, finish_reason=self.finish_reason, logprobs=logprobs
        )


def _copy(entries: list[TokenLogprob] | None) -> list[TokenLogprob] | None:
    return None if entries is None else list(entries)


Foldable = Union[ChatCompletionChunk, dict[str, Any], Event[Any, Any], NeedData]  # noqa: UP007
"""What :meth:`StreamAccumulator.add` takes."""


class StreamAccumulator(Generic[CompletionT]):
    """Folds a stream's chunks into the final :class:`~purai_proto.ChatCompletion`.

    Feed it chunks, or the events of a :class:`~purai_proto.ClientConnection` (it
    takes the chunks out of :class:`~purai_proto.ChunkReceived` and ignores the other
    events), then call :meth:`completion`::

        completion = StreamAccumulator(chunks).completion()

    Chunks may be of a subclass of :class:`~purai_proto.ChatCompletionChunk`: the
    fields it adds are not folded (how to join them is for the subclass to say), the
    others are. Chunks decoded as plain dicts (``chunk_type=typing.Any``) are read as
    :class:`~purai_proto.ChatCompletionChunk` first.

    Args:
        items: Chunks or events to start with, as :meth:`add` takes them.
        completion_type: What :meth:`completion` builds:
            :class:`~purai_proto.ChatCompletion`, a subclass of it (the fields it
            adds keep their defaults), or ``typing.Any`` (or ``dict``) for the reply
            as a plain dict, as a server would have sent it.

    Raises:
        LocalProtocolError: A ``completion_type`` that is none of these.
    """

    def __init__(
        self,
        items: Iterable[Foldable] = (),
        *,
        completion_type: type[CompletionT] = ChatCompletion,  # type: ignore[assignment]
    ) -> None:
        as_dict = completion_type is Any or completion_type is dict
        if not as_dict and not (
            isinstance(completion_type, type) and issubclass(completion_type, ChatCompletion)
        ):
            raise LocalProtocolError(
                "completion_type must be ChatCompletion, a subclass of it, or typing.Any, "
                f"not {completion_type!r}"
            )
        self._completion_type: Any = dict if as_dict else completion_type
        self._choices: dict[int, _ChoiceParts] = {}
        self._id = ""
        self._model = ""
        self._created = 0
        self._system_fingerprint: str | None = None
        self._service_tier: str | None = None
        self._usage: Usage | None = None
        self._provider: str | None = None
        self._overwritten = False
        self._cache: CacheReport | None = None
        self._called_functions: list[CalledFunction] = []
        self._whole: Any = None
        for item in items:
            self.add(item)

    def add(self, item: Foldable) -> None:
        """Fold in one chunk, or the chunk of a ``ChunkReceived`` event.

        A ``CompletionReceived`` (a server that did not stream) is taken as the whole
        reply: :meth:`completion` returns it. Other events are ignored, so a loop can
        pass every event it gets; errors are the caller's to handle.

        Args:
            item: A chunk (a dict is read as a chunk) or an event.

        Raises:
            RemoteProtocolError: A dict that is no chunk (a field of the wrong type).
        """
        if isinstance(item, ChunkReceived):
            item = item.chunk
        if isinstance(item, ChatCompletionChunk):
            self.add_chunk(item)
        elif isinstance(item, dict):
            self.add_chunk(_chunk_from_dict(item))
        elif isinstance(item, CompletionReceived):
            self._whole = item.completion

    def add_chunk(self, chunk: ChatCompletionChunk) -> None:
        """Fold in one chunk.

        Args:
            chunk: The next chunk of the stream.
        """
        if not self._id:
            self._id = chunk.id
        if not self._model:
            self._model = chunk.model
        if not self._created:
            self._created = chunk.created
        if self._system_fingerprint is None:
            self._system_fingerprint = chunk.system_fingerprint
        if self._service_tier is None:
            self._service_tier = chunk.service_tier
        usage = chunk.usage
        if usage is not None and (
            self._usage is None or usage.total_tokens or not self._usage.total_tokens
        ):
            self._usage = usage
        if chunk.provider is not None:
            self._provider = chunk.provider
        if chunk.overwritten:
            self._overwritten = True
        if chunk.cache is not None:
            self._cache = chunk.cache
        if chunk.called_functions:
            self._called_functions = chunk.called_functions
        choices = self._choices
        for choice in chunk.choices:
            parts = choices.get(choice.index)
            if parts is None:
                parts = choices[choice.index] = _ChoiceParts()
            # A whole reply sent to a streamed request carries a message, not a delta.
            delta = choice.delta if choice.message is None else choice.message
            content = delta.content
            if content:
                # Only a whole message may have its content in parts.
                parts.content.append(content if type(content) is str else text_of(content))
            reasoning = delta.reasoning_content or delta.reasoning
            if reasoning:
                parts.reasoning.append(reasoning)
            if delta.role and parts.role is None:
                parts.role = delta.role
            if delta.refusal:
                parts.refusal.append(delta.refusal)
            if delta.function_call is not None:
                parts.add_function_call(delta.function_call)
            if delta.tool_calls:
                for fragment in delta.tool_calls:
                    parts.add_tool_call(fragment)
            if choice.finish_reason is not None:
                parts.finish_reason = choice.finish_reason
            if choice.logprobs is not None:
                parts.add_logprobs(choice.logprobs)

    def completion(self) -> CompletionT:
        """The reply the chunks so far make up.

        May be called at any time (the reply so far), and more than once.

        Returns:
            A new reply of ``completion_type``, its choices in index order, or the
            non-streamed reply when a ``CompletionReceived`` was added (as the
            connection decoded it).
        """
        if self._whole is not None:
            return self._whole  # type: ignore[no-any-return]
        completion_type = self._completion_type
        built: Any = (ChatCompletion if completion_type is dict else completion_type)(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[self._choices[i].build(i) for i in sorted(self._choices)],
            usage=self._usage,
            system_fingerprint=self._system_fingerprint,
            service_tier=self._service_tier,
            provider=self._provider,
            overwritten=self._overwritten,
            cache=self._cache,
            called_functions=list(self._called_functions),
        )
        return msgspec.to_builtins(built) if completion_type is dict else built  # type: ignore[no-any-return]


def _chunk_from_dict(item: dict[str, Any]) -> ChatCompletionChunk:
    try:
        return msgspec.convert(item, ChatCompletionChunk)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(f"a chunk that does not fit ChatCompletionChunk: {exc}") from None
