"""How ``purai chat`` shows a reply: its text as it streams, or JSON lines."""

from __future__ import annotations

from typing import Literal, TextIO

import msgspec

from purai_proto import ChatCompletion, ChatCompletionChunk

__all__ = ["REASONING_CHOICES", "ReasoningOption", "ReplyPrinter"]

ReasoningOption = Literal["show", "hide"]
REASONING_CHOICES: tuple[ReasoningOption, ...] = ("show", "hide")

# How the model's reasoning is set apart from its answer. On a terminal: faint text
# (SGR 2), then back to normal (SGR 22). Elsewhere, where escape codes would be noise:
# between <think> lines, as reasoning models write it inline, so tools that strip
# those find it.
_FAINT = ("\x1b[2m", "\x1b[22m\n")
_TAGGED = ("<think>\n", "\n</think>\n")


class ReplyPrinter:
    """Writes one reply as it arrives, flushed, so that it appears as it streams.

    In text mode the reply's text is written as it comes, and any reasoning before
    it set apart, unless ``reasoning`` is ``"hide"``: faint when ``out`` is a
    terminal, else between ``<think>`` and ``</think>`` lines. In JSON mode each
    chunk, or the whole reply, is written as a JSON line: the decoded object, encoded
    again (fields purai does not know are not in it).

    Attributes:
        text: The reply's text so far (choice 0), whatever the mode.
    """

    def __init__(self, out: TextIO, *, as_json: bool, reasoning: ReasoningOption = "show") -> None:
        self._out = out
        self._json = as_json
        self._show_reasoning = not as_json and reasoning == "show"
        self._reasoning_start, self._reasoning_end = _FAINT if out.isatty() else _TAGGED
        self._in_reasoning = False
        self._at_line_start = True
        self.text = ""

    def chunk(self, chunk: ChatCompletionChunk) -> None:
        self.text += chunk.text
        if self._json:
            self._write_line(msgspec.json.encode(chunk).decode())
            return
        reasoning = chunk.reasoning if self._show_reasoning else ""
        if reasoning:
            self._write(reasoning if self._in_reasoning else self._reasoning_start + reasoning)
            self._in_reasoning = True
        if chunk.text:
            self._end_reasoning()
            self._write(chunk.text)

    def completion(self, completion: ChatCompletion) -> None:
        self.text = completion.text
        if self._json:
            self._write_line(msgspec.json.encode(completion).decode())
            return
        if self._show_reasoning and completion.reasoning:
            self._write(self._reasoning_start + completion.reasoning + self._reasoning_end)
        self._write(completion.text)

    def end(self) -> None:
        """Leave the terminal on a fresh line, however the reply ended."""
        self._end_reasoning()
        if not self._at_line_start:
            self._write("\n")
        self._out.flush()

    def _end_reasoning(self) -> None:
        if self._in_reasoning:
            self._in_reasoning = False
            self._write(self._reasoning_end)

    def _write_line(self, line: str) -> None:
        self._write(line + "\n")

    def _write(self, text: str) -> None:
        if text:
            # Noted first: a Ctrl-C right after the write must still find the line
            # begun, or end() would leave the prompt after the reply's last word.
            self._at_line_start = text.endswith("\n")
            self._out.write(text)
            self._out.flush()
