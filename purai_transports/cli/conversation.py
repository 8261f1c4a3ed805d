"""``purai chat`` on a terminal with no prompt: a conversation, turn by turn.

Each question is sent with the whole conversation so far (the system prompt, then
every question and answer), as chat APIs expect, since the server keeps nothing
between requests. ``input()`` reads the questions; with :mod:`readline` imported
(where Python has it) that gives line editing and the history of this session.

What the conversation keeps:

* a reply that arrives is kept with its question;
* a reply stopped with Ctrl-C is kept as far as it came, with its question: what
  is on the screen is what the model is told it said;
* a request that fails (a refused connection, an error status) is dropped with its
  question, so that asking again (up arrow, Enter) sends the same conversation.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

from purai_proto import PuraiError

from .printer import ReplyPrinter
from .sessions import ChatSession

__all__ = ["PROMPT", "converse"]

PROMPT = "> "
_HELP = "/reset starts a new conversation, /exit (or Ctrl-D) ends it, Ctrl-C stops a reply"


def converse(
    session: ChatSession,
    fields: dict[str, Any],
    new_printer: Callable[[], ReplyPrinter],
    *,
    system: str | None,
) -> int:
    """Talk until ``/exit`` or the end of input; returns the exit status (0).

    Args:
        session: Sends each request.
        fields: The request's fields other than ``messages``.
        new_printer: Makes the printer of each reply.
        system: The system prompt that starts every conversation, if any.
    """
    # Importing readline is what gives input() line editing and history; Python
    # has it on most platforms (not Windows), and input() works without it.
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401
    start = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    _say(f"purai chat: {_HELP}")
    while True:
        try:
            line = input(PROMPT)
        except EOFError:  # Ctrl-D: the cursor is still after the prompt
            print()
            return 0
        except KeyboardInterrupt:  # Ctrl-C at the prompt drops the line, as shells do
            print()
            continue
        question = line.strip()
        if question == "/exit":
            return 0
        if question == "/reset":
            messages = list(start)
            _say("purai chat: a new conversation")
            continue
        if question.startswith("/"):
            _say(f"purai chat: unknown command {question.split()[0]}; {_HELP}")
            continue
        if not question:
            continue
        messages.append({"role": "user", "content": line})
        answer = _ask(session, {**fields, "messages": list(messages)}, new_printer())
        if answer is None:
            messages.pop()
        elif answer:
            messages.append({"role": "assistant", "content": answer})


def _ask(session: ChatSession, fields: dict[str, Any], printer: ReplyPrinter) -> str | None:
    """The reply's text (as far as it came, if stopped), or None if it failed."""
    try:
        session.reply(fields, printer)
    except KeyboardInterrupt:
        printer.end()
        _say("purai chat: stopped")
    except (PuraiError, OSError) as exc:
        printer.end()
        _say(f"purai: {exc}")
        return None
    else:
        printer.end()
    return printer.text


def _say(line: str) -> None:
    sys.stdout.flush()  # the reply so far comes before the note
    print(line, file=sys.stderr, flush=True)
