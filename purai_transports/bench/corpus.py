"""Deterministic corpora of chat chunk objects, for ``purai bench`` and the suites.

Every object has the shape PurAI streams (see the seed in docs: ``object`` is
``"chat.completion"``, usage is all zeros, and ``cache`` carries the log of failed
providers), serialized compactly with ``msgspec.json.encode`` and about 540 bytes long
on average, as in the figures of the performance guide; :func:`openai` gives the same
text in the shape OpenAI streams (``"chat.completion.chunk"``, about 200 bytes).

Two corpora, because the decoder has a fast path and a slow path:

* ``realistic``: prose tokens with accents, CJK and emoji, a few braces and, rarely,
  quotes. This is what a chat stream looks like and what the fast path is built for.
* ``adversarial``: about a quarter of the chunks carry code and LaTeX snippets
  (``}{``, lone braces, ``\\"``, ``\\\\`` and ``\\u00e9``-style escapes). A ``}{`` in a
  string looks like a boundary between two objects, so these chunks make the decoder's
  guesses fail and push it onto its exact scanner.

A fixed seed makes every run decode the same bytes, so figures of two runs (or two
branches) compare the decoder and not the corpus. :func:`builtin_bodies` frames a few
hundred of them four ways (SSE with OpenAI's objects, the others with PurAI's), the
bodies ``purai bench`` measures when it is given no file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import msgspec

from purai_proto import StreamEncoder, StreamFraming

from .bodies import Body

__all__ = [
    "BUILTIN_OBJECTS",
    "CORPORA",
    "DEFAULT_OBJECTS",
    "DEFAULT_SEED",
    "adversarial",
    "builtin_bodies",
    "frame",
    "object_reads",
    "openai",
    "realistic",
]

DEFAULT_OBJECTS = 20_000
DEFAULT_SEED = 20240611
#: Objects in each body of ``purai bench``'s built-in corpus: enough for several
#: 64 KiB reads, few enough to build in milliseconds.
BUILTIN_OBJECTS = 400

# A stream keeps its id, model and provider; a corpus is many streams back to back.
_STREAM_LENGTH = (40, 400)
_MODELS = ("gpt-3.5-turbo-0301", "gpt-4-0613", "gpt-4o-mini", "claude-3-haiku")
_PROVIDERS = ("Churchless", "Vercel", "Nova", "Liaobots", "GPTalk", "Bing")
_CACHE_MESSAGE = (
    "Some of our providers returned with errors. "
    "Errors are automatically reported to our developers."
)
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

_WORDS = (
    "the", "a", "model", "language", "answer", "stream", "of", "and", "to", "is",
    "in", "that", "it", "with", "for", "as", "on", "this", "token", "response",
    "café", "naïve", "résumé", "Zürich", "señor", "façade", "déjà", "vu", "Ελλάδα",
    "Москва", "東京", "日本語", "你好", "世界", "한국어", "مرحبا", "😀", "🚀", "👍🏽",
)  # fmt: skip
_PUNCTUATION = (" ", " ", " ", " ", ", ", ". ", "\n", "! ", "? ", "; ", ": ")
# Realistic text: braces now and then (a template, a set), quotes rarely.
_REALISTIC_EXTRAS = ("{name}", "{", "}", "{x, y}")
_QUOTED = ('"quoted"', 'he said "hi"')
# Adversarial text: code and LaTeX, the bytes that look like object boundaries.
_SNIPPETS = (
    r"\frac{a}{b}",
    r"\binom{n}{k}{m}",
    r"\begin{align}x^{2}\end{align}",
    "}{",
    "} {",
    "{",
    "}",
    'if (x) { return "ok"; }',
    '{"key": "val"}{"next": 1}',
    "C:\\Users\\été\\",
    'print("héllo, 世界")',
    'fn main() { println!("{}", 1); }',
    "\\",
    '"',
)
_ESCAPED_TEXT = ("é", "café", "naïve", "日本", "😀", "ünïcödé")


def _stream_id(rng: random.Random) -> str:
    return "chatcmpl-" + "".join(rng.choices(_ID_ALPHABET, k=29))


def _record(rng: random.Random) -> dict[str, Any]:
    """One failed provider, as PurAI logs it: a status and whatever the provider said."""
    status = rng.choice((429, 500, 502, 503))
    data: Any = rng.choice(
        (
            None,
            "Bad Gateway",
            {"error": "Rate limit"},
        )
    )
    return {"provider": rng.choice(_PROVIDERS), "response": {"status": status, "data": data}}


Shape = Callable[[dict[str, str], str, list[dict[str, Any]]], dict[str, Any]]


def _chunk(stream: dict[str, str], content: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A chunk object with every field of the seed, in the seed's order."""
    return {
        "id": stream["id"],
        "object": "chat.completion",
        "created": 0,
        "model": stream["model"],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
        "provider": stream["provider"],
        "overwritten": False,
        "cache": {"status": 500, "error": {"message": _CACHE_MESSAGE, "records": records}},
        "calledFunctions": [],
    }


def _openai_chunk(stream: dict[str, str], content: str, _: list[dict[str, Any]]) -> dict[str, Any]:
    """A chunk object as OpenAI streams it: no usage, no cache, no provider."""
    return {
        "id": stream["id"],
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": stream["model"],
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {"index": 0, "delta": {"content": content}, "logprobs": None, "finish_reason": None}
        ],
    }


def _prose(rng: random.Random) -> str:
    """A few tokens of prose: what most chunks of a chat stream carry."""
    words = rng.choices(_WORDS, k=rng.randint(1, 2))
    return "".join(word + rng.choice(_PUNCTUATION) for word in words)


def _realistic_text(rng: random.Random) -> tuple[str, bool]:
    roll = rng.random()
    if roll < 0.04:
        return _prose(rng) + rng.choice(_REALISTIC_EXTRAS), False
    if roll < 0.045:
        return _prose(rng) + rng.choice(_QUOTED), False
    return _prose(rng), False


def _adversarial_text(rng: random.Random) -> tuple[str, bool]:
    """Text and whether to write its non-ASCII characters as ``\\uXXXX`` escapes."""
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(_SNIPPETS) + rng.choice(_ESCAPED_TEXT), True
    if roll < 0.25:
        return rng.choice(_SNIPPETS) + rng.choice(_SNIPPETS), False
    return _prose(rng), False


def _encode(obj: dict[str, Any], ascii_content: bool) -> bytes:
    """Serialize compactly; optionally escape the content's non-ASCII as ``\\uXXXX``.

    msgspec writes non-ASCII text as raw UTF-8, but servers built on other encoders
    escape it, and escapes take msgspec's slower string path, so the adversarial
    corpus has some.
    """
    data = msgspec.json.encode(obj)
    if not ascii_content:
        return data
    content = obj["choices"][0]["delta"]["content"]
    marker = b'"content":'
    escaped = marker + json.dumps(content, ensure_ascii=True).encode()
    return data.replace(marker + msgspec.json.encode(content), escaped, 1)


def _generate(
    n: int,
    seed: int,
    text: Callable[[random.Random], tuple[str, bool]],
    shape: Shape = _chunk,
) -> list[bytes]:
    rng = random.Random(seed)
    objects: list[bytes] = []
    stream: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    left = 0
    while len(objects) < n:
        if left == 0:
            stream = {
                "id": _stream_id(rng),
                "model": rng.choice(_MODELS),
                "provider": rng.choice(_PROVIDERS),
            }
            records = [_record(rng) for _ in range(2 if rng.random() < 0.1 else 1)]
            left = rng.randint(*_STREAM_LENGTH)
        content, ascii_content = text(rng)
        objects.append(_encode(shape(stream, content, records), ascii_content))
        left -= 1
    return objects


def realistic(n: int = DEFAULT_OBJECTS, seed: int = DEFAULT_SEED) -> list[bytes]:
    """``n`` chunk objects of chat prose, one ``bytes`` per object."""
    return _generate(n, seed, _realistic_text)


def adversarial(n: int = DEFAULT_OBJECTS, seed: int = DEFAULT_SEED) -> list[bytes]:
    """``n`` chunk objects, a quarter of them carrying code, LaTeX and escapes."""
    return _generate(n, seed, _adversarial_text)


def openai(n: int = DEFAULT_OBJECTS, seed: int = DEFAULT_SEED) -> list[bytes]:
    """``n`` chunk objects of chat prose in OpenAI's shape, one ``bytes`` per object."""
    return _generate(n, seed, _realistic_text, _openai_chunk)


#: The corpora by name, in the order the benchmarks report them.
CORPORA: dict[str, Callable[[int], list[bytes]]] = {
    "realistic": realistic,
    "adversarial": adversarial,
}


def frame(objects: list[bytes], framing: StreamFraming) -> bytes:
    """A streamed body holding ``objects`` in ``framing``, as the stand-in server writes it."""
    return b"".join(object_reads(objects, framing))


def object_reads(objects: list[bytes], framing: StreamFraming) -> list[bytes]:
    """The same body as :func:`frame`, one object per piece, as a live stream reads it:
    each piece is what the stand-in server writes for one object (its end marker,
    ``data: [DONE]`` or ``]``, is a last piece of its own)."""
    encoder = StreamEncoder(framing)
    parts = [encoder.encode(msgspec.Raw(obj)) for obj in objects]
    end = encoder.end()
    return [*parts, end] if end else parts


def builtin_bodies(n: int = BUILTIN_OBJECTS) -> list[Body]:
    """The bodies ``purai bench`` measures without a file: every framing, ``n`` objects.

    SSE carries OpenAI's objects (OpenAI's dialect is what streams as SSE); the other
    framings carry PurAI's, as the stand-in server streams them.
    """
    purai, openai_objects = realistic(n), openai(n)
    bodies = [Body("built-in", "sse", frame(openai_objects, "sse"), openai_objects)]
    framings: tuple[StreamFraming, ...] = ("concatenated", "ndjson", "json-array")
    for framing in framings:
        bodies.append(Body("built-in", framing, frame(purai, framing), purai))
    return bodies
