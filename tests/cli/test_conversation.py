"""``purai chat`` on a terminal: a conversation, turn by turn, under a pseudo-terminal.

The server is a :class:`~tests.helpers.servers.ScriptedServer`, which records each request,
so that the tests can check what each turn sent: the whole conversation so far.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from tests.helpers.scripted_replies import (
    LAST_CHUNK,
    Pause,
    Reply,
    Step,
    chunk_object,
    error_reply,
    head,
    http_chunk,
    streamed_reply,
)
from tests.helpers.servers import ScriptedServer
from tests.helpers.terminal import Terminal

PROMPT = "> "
TRANSPORTS = ["blocking", "asyncio", "trio"]


def messages_sent(server: ScriptedServer, number: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = msgspec.json.decode(server.seen[number].body)["messages"]
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def slow_reply() -> Reply:
    """The text "Hello", then " and" every 0.2 seconds for a minute (a test stops it long before).

    It keeps coming, rather than pausing once, because a Ctrl-C that lands just
    after a chunk is printed and before the blocking client reads again only takes
    effect when the read returns: CPython looks at signals between bytecodes and
    when a system call is interrupted, not in the instant between.
    """
    steps: list[Step] = [
        head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]),
        http_chunk(chunk_object("Hello")),
    ]
    for _ in range(300):
        steps += [Pause(0.2), http_chunk(chunk_object(" and"))]
    return Reply([*steps, LAST_CHUNK], keep_alive=True)


def stopped_after(shown: str) -> str:
    """The part of a reply that came after what was read, up to Ctrl-C's note."""
    match = re.fullmatch(r"((?: and)*)\npurai chat: stopped\n> ", shown.replace("^C", ""))
    assert match, shown
    return match.group(1)


def test_each_question_is_sent_with_the_conversation_so_far() -> None:
    replies = [streamed_reply(["AI ", "language model."]), streamed_reply(["Paris."])]
    system = {"role": "system", "content": "be brief"}
    with ScriptedServer(*replies) as server, Terminal(
        "chat", "--base-url", server.base_url, "-s", "be brief", "-H", "X-Trace: 7"
    ) as terminal:  # fmt: skip
        assert "/reset" in terminal.read_until(PROMPT)  # the help comes first
        terminal.type("who are you?\r")
        assert terminal.read_until(PROMPT) == "who are you?\nAI language model.\n" + PROMPT
        terminal.type("capital of France?\r")
        assert terminal.read_until(PROMPT) == "capital of France?\nParis.\n" + PROMPT
        terminal.type("/reset\r")
        terminal.read_until(PROMPT)
        terminal.type("and now?\r")
        terminal.read_until(PROMPT)
        terminal.type("/exit\r")
        assert terminal.exit_status() == 0
    assert messages_sent(server, 0) == [system, user("who are you?")]
    assert messages_sent(server, 1) == [
        system,
        user("who are you?"),
        assistant("AI language model."),
        user("capital of France?"),
    ]
    assert messages_sent(server, 2) == [system, user("and now?")]
    assert {seen.headers["x-trace"] for seen in server.seen} == {"7"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ctrl_c_stops_the_reply_and_keeps_the_conversation(transport: str) -> None:
    replies = [slow_reply(), streamed_reply(["Fine."])]
    with ScriptedServer(*replies) as server, Terminal(
        "chat", "--base-url", server.base_url, "--transport", transport
    ) as terminal:  # fmt: skip
        terminal.read_until(PROMPT)
        terminal.type("say hello\r")
        terminal.read_until("Hello")
        terminal.type("\x03")
        # A fresh line after the part that came (and the terminal's echo of Ctrl-C,
        # "^C", wherever it fell), a note, and the prompt again.
        answer = "Hello" + stopped_after(terminal.read_until(PROMPT))
        terminal.type("how are you?\r")
        assert terminal.read_until(PROMPT) == "how are you?\nFine.\n" + PROMPT
        terminal.type("\x04")  # Ctrl-D ends it, on a fresh line
        assert terminal.exit_status() == 0
        assert terminal.shown.endswith(PROMPT + "\n")
    # What was shown is what the conversation keeps.
    assert messages_sent(server, 1) == [user("say hello"), assistant(answer), user("how are you?")]


def test_a_failed_turn_is_dropped_and_the_conversation_goes_on() -> None:
    replies = [error_reply(400, "no such model"), streamed_reply(["Hi."])]
    with ScriptedServer(*replies) as server, Terminal(
        "chat", "--base-url", server.base_url
    ) as terminal:  # fmt: skip
        terminal.read_until(PROMPT)
        terminal.type("first\r")
        shown = terminal.read_until(PROMPT)
        assert "purai: " in shown
        assert "no such model" in shown
        terminal.type("second\r")
        assert terminal.read_until(PROMPT) == "second\nHi.\n" + PROMPT
        terminal.type("/exit\r")
        assert terminal.exit_status() == 0
    assert messages_sent(server, 1) == [user("second")]


def test_unknown_commands_are_named() -> None:
    with Terminal("chat") as terminal:  # the built-in server
        terminal.read_until(PROMPT)
        terminal.type("/nonsense\r")
        assert "unknown command /nonsense" in terminal.read_until(PROMPT)
        terminal.type("who are you?\r")
        assert terminal.read_until(PROMPT) == "who are you?\nAI language model.\n" + PROMPT
        terminal.type("/exit\r")
        assert terminal.exit_status() == 0


def test_ctrl_c_during_a_one_shot_reply_leaves_a_fresh_line() -> None:
    with ScriptedServer(slow_reply()) as server, Terminal(
        "chat", "say hello", "--base-url", server.base_url
    ) as terminal:  # fmt: skip
        terminal.read_until("Hello")
        terminal.type("\x03")
        assert terminal.exit_status() == 130
        assert re.fullmatch(r"Hello(?: and)*\n", terminal.shown.replace("^C", ""))
