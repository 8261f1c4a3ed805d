"""The fixture corpus of streams shaped as real servers send them
(``tests/data/servers/*.txt``), and what each must fold into, however it is cut: one
expectation for the decoder, the accumulator, ClientConnection and every client."""

from __future__ import annotations

from dataclasses import dataclass, field

from purai_proto import ChatCompletion

from .paths import DATA

__all__ = ["EXPECTED", "SERVERS", "Expected", "check_completion", "server_stream"]

SERVERS = DATA / "servers"


@dataclass
class Expected:
    """What a stream folds into: per choice, and the errors it reports."""

    texts: list[str]
    reasoning: str = ""
    tool_calls: list[tuple[str | None, str | None, str]] = field(default_factory=list)
    finish_reasons: list[str | None] = field(default_factory=lambda: ["stop"])
    errors: list[str] = field(default_factory=list)
    usage_total: int | None = None
    chunks: int | None = None


EXPECTED: dict[str, Expected] = {
    "openai_include_usage": Expected(["Hello there, 日本"], usage_total=13, chunks=5),
    "azure_content_filter": Expected(["Hi!"], chunks=6),
    "openrouter_reasoning": Expected(["Hello!"], "The user greets me.", usage_total=15),
    "deepseek_reasoning_content": Expected(
        ["9.9 is larger."], "9.11 vs 9.9: compare tenths, 1 < 9.", usage_total=47
    ),
    "vllm_tool_call_cut": Expected(
        [""],
        tool_calls=[
            (
                "chatcmpl-tool-4f1c",
                "get_weather",
                '{"location": "San Francisco, CA", "note": "say \\"hi\\" 😀", "unit": "celsius"}',
            )
        ],
        finish_reasons=["tool_calls"],
    ),
    "openai_parallel_tool_calls": Expected(
        [""],
        tool_calls=[
            ("call_a", "get_weather", '{"city": "Paris"}'),
            ("call_b", "get_time", '{"tz": "CET"}'),
        ],
        finish_reasons=["tool_calls"],
    ),
    "gemini_tool_calls_without_index": Expected(
        [""],
        tool_calls=[
            ("", "get_weather", '{"city": "Paris"}'),
            ("", "get_weather", '{"city": "Rome"}'),
            ("", "get_weather", '{"city": "Oslo"}'),
        ],
        finish_reasons=["tool_calls"],
        usage_total=55,
    ),
    "llamacpp_timings": Expected(["Hi there"], usage_total=8),
    "groq_x_groq": Expected(["Fast"]),
    "openrouter_error_mid_stream": Expected(
        ["Partial"], finish_reasons=[None], errors=["Provider disconnected unexpectedly"]
    ),
    "sse_event_error": Expected(["Hel"], finish_reasons=[None], errors=["Overloaded"]),
    "openai_n2": Expected(["Red rose", "Blue sky"], finish_reasons=["length", "stop"]),
    "openai_logprobs": Expected(["Yes."]),
}


def server_stream(name: str) -> bytes:
    """The body of fixture ``name``, as its server sent it."""
    return (SERVERS / f"{name}.txt").read_bytes()


def check_completion(completion: ChatCompletion, errors: list[str], expected: Expected) -> None:
    assert [c.message.content or "" for c in completion.choices] == expected.texts
    assert completion.text == expected.texts[0]
    assert completion.reasoning == expected.reasoning
    assert [c.finish_reason for c in completion.choices] == expected.finish_reasons
    calls = completion.choices[0].message.tool_calls or []
    assert [
        (t.id, t.function and t.function.name, t.function and t.function.arguments) for t in calls
    ] == expected.tool_calls
    assert errors == expected.errors
    total = completion.usage.total_tokens if completion.usage else None
    assert total == expected.usage_total
