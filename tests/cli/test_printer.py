"""How ``purai chat`` prints a reply: text, JSON lines, reasoning, fresh lines."""

from __future__ import annotations

import io
import json

from purai_proto import ChatCompletionChunk, ChunkChoice, Delta
from purai_transports.cli.printer import ReplyPrinter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def chunk(text: str) -> ChatCompletionChunk:
    return ChatCompletionChunk(choices=[ChunkChoice(delta=Delta(content=text))])


class ReasoningChunk(ChatCompletionChunk):
    """A chunk with reasoning, as ``ChatCompletionChunk.reasoning`` gives it."""

    thinking: str = ""

    @property
    def reasoning(self) -> str:
        return self.thinking


def test_text_as_it_comes_then_a_fresh_line() -> None:
    out = io.StringIO()
    printer = ReplyPrinter(out, as_json=False)
    for text in ["AI ", "language", " model."]:
        printer.chunk(chunk(text))
    printer.end()
    printer.end()  # once is enough: the line is already fresh
    assert out.getvalue() == "AI language model.\n"
    assert printer.text == "AI language model."


def test_json_lines_and_the_text() -> None:
    out = io.StringIO()
    printer = ReplyPrinter(out, as_json=True)
    printer.chunk(chunk("Hi"))
    printer.end()
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["choices"][0]["delta"]["content"] == "Hi"
    assert out.getvalue().endswith("}\n")
    assert printer.text == "Hi"


def test_reasoning_is_faint_on_a_terminal_and_between_think_lines_elsewhere() -> None:
    chunks = [
        ReasoningChunk(thinking="hmm, "),
        ReasoningChunk(thinking="three words"),
        chunk("Yes."),
    ]
    terminal, piped = Terminal(), io.StringIO()
    for out in (terminal, piped):
        printer = ReplyPrinter(out, as_json=False)
        for each in chunks:
            printer.chunk(each)
        printer.end()
        assert printer.text == "Yes."
    assert terminal.getvalue() == "\x1b[2mhmm, three words\x1b[22m\nYes.\n"
    assert piped.getvalue() == "<think>\nhmm, three words\n</think>\nYes.\n"
