"""The streams of real servers (``tests/data/servers/*.txt``) through every client, over
real loopback, and the caller's own chunk and completion types.

A scripted server replays each captured body under its content type, in HTTP chunks
cut at random points; each client must fold it into what
``tests/proto/test_server_streams.py`` expects of the decoder and the accumulator: text,
reasoning, tool calls, finish reasons, usage and errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from typing_extensions import assert_type

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    LocalProtocolError,
)
from purai_transports import StreamError
from purai_transports.blocking import Client
from tests.helpers.flavours import FLAVOURS, Flavoured, client_of
from tests.helpers.scripted_replies import Reply, head, replayed_reply
from tests.helpers.server_streams import EXPECTED, SERVERS, check_completion
from tests.helpers.servers import ScriptedServer

QUESTION = [{"role": "user", "content": "hi"}]


def _replay(name: str, seed: int = 0) -> Reply:
    return replayed_reply((SERVERS / f"{name}.txt").read_bytes(), seed=seed)


@contextlib.contextmanager
def _served(
    flavour: str, reply: Reply, base_path: str = "/v1"
) -> Iterator[tuple[ScriptedServer, Flavoured]]:
    """A scripted server answering ``reply`` to every request, and a client of it."""
    with ScriptedServer(reply) as server, client_of(flavour, server.base_url + base_path) as client:
        yield server, client


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_server_stream_through_every_client(flavour: str, name: str) -> None:
    expected = EXPECTED[name]
    with _served(flavour, _replay(name, seed=len(name))) as (server, client):
        streamed = client.stream(model="m", messages=QUESTION)
    if expected.errors:
        assert isinstance(streamed.error, StreamError)
        errors = [streamed.error.message]
    else:
        assert streamed.error is None
        errors = []
    check_completion(streamed.completion, errors, expected)
    assert "".join(chunk.reasoning for chunk in streamed.chunks) == expected.reasoning
    if expected.chunks is not None:
        assert len(streamed.chunks) == expected.chunks
    assert server.seen[0].target == "/v1/chat/completions"


# --- your own types -----------------------------------------------------------------------
# As docs/concepts.md shows them: Azure's filter results, kept by a subclass.


class FilterResult(msgspec.Struct, gc=False):
    filtered: bool = False
    severity: str | None = None


class PromptFilterResults(msgspec.Struct, gc=False):
    prompt_index: int = 0
    content_filter_results: dict[str, FilterResult] = {}


class AzureChunk(ChatCompletionChunk, gc=False):
    prompt_filter_results: list[PromptFilterResults] = msgspec.field(default_factory=list)


class AzureCompletion(ChatCompletion, gc=False):
    prompt_filter_results: list[PromptFilterResults] = msgspec.field(default_factory=list)


class XGroq(msgspec.Struct, gc=False):
    id: str = ""


class GroqChunk(ChatCompletionChunk, gc=False):
    x_groq: XGroq | None = None


SAFE = FilterResult(filtered=False, severity="safe")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_azure_filter_results_through_every_client(flavour: str) -> None:
    with _served(flavour, _replay("azure_content_filter")) as (_server, client):
        streamed = client.stream(
            model="m", messages=QUESTION, chunk_type=AzureChunk, completion_type=AzureCompletion
        )
    assert streamed.error is None
    assert all(type(chunk) is AzureChunk for chunk in streamed.chunks)
    first = streamed.chunks[0].prompt_filter_results[0]
    assert first.content_filter_results["hate"] == SAFE
    assert type(streamed.completion) is AzureCompletion
    assert streamed.completion.text == "Hi!"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_whole_reply_decodes_into_the_completion_type(flavour: str) -> None:
    body = msgspec.json.encode(
        {
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
            "prompt_filter_results": [
                {"prompt_index": 0, "content_filter_results": {"hate": msgspec.to_builtins(SAFE)}}
            ],
        }
    )
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    with _served(flavour, Reply([head(200, headers) + body], keep_alive=True)) as (_server, client):
        typed = client.complete(model="m", messages=QUESTION, completion_type=AzureCompletion)
        plain = client.complete(model="m", messages=QUESTION, completion_type=dict)
    assert type(typed) is AzureCompletion
    assert typed.text == "Hi"
    assert typed.prompt_filter_results[0].content_filter_results["hate"] == SAFE
    assert plain["prompt_filter_results"][0]["content_filter_results"]["hate"]["severity"] == "safe"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_plain_dicts_keep_every_field(flavour: str) -> None:
    with _served(flavour, _replay("openrouter_reasoning")) as (_server, client):
        streamed = client.stream(
            model="m", messages=QUESTION, chunk_type=dict, completion_type=dict
        )
        whole = client.complete(model="m", messages=QUESTION, chunk_type=dict)
    assert all(type(chunk) is dict for chunk in streamed.chunks)
    assert streamed.chunks[0]["choices"][0]["delta"]["reasoning_details"][0]["text"] == "The user"
    message = streamed.completion["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("Hello!", "The user greets me.")
    assert (whole.text, whole.reasoning) == ("Hello!", "The user greets me.")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_one_pooled_connection_serves_requests_of_different_types(flavour: str) -> None:
    with _served(flavour, _replay("groq_x_groq")) as (server, client):
        groq = client.stream(model="m", messages=QUESTION, chunk_type=GroqChunk)
        plain = client.stream(model="m", messages=QUESTION)
        again = client.stream(model="m", messages=QUESTION, chunk_type=GroqChunk)
    assert server.connections == 1
    assert groq.chunks[0].x_groq == XGroq(id="req_01jb")
    assert {type(chunk) for chunk in plain.chunks} == {ChatCompletionChunk}
    assert again.chunks == groq.chunks


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("bad", [int, msgspec.Struct, ChatCompletion])
def test_a_chunk_type_that_cannot_be_folded_is_refused_before_sending(
    flavour: str, bad: Any
) -> None:
    with (
        _served(flavour, _replay("groq_x_groq")) as (server, client),
        pytest.raises(LocalProtocolError, match="chunk_type must be"),
    ):
        client.stream(model="m", messages=QUESTION, chunk_type=bad)
    assert server.connections == 0


def test_type_checkers_know_what_a_stream_yields() -> None:
    # Run, and checked by mypy: assert_type fails the type check if a type is lost.
    with (
        ScriptedServer(_replay("azure_content_filter")) as server,
        Client(server.base_url + "/v1") as client,
    ):
        with client.stream(model="m", chunk_type=AzureChunk) as stream:
            for chunk in stream:
                assert_type(chunk, AzureChunk)
        assert_type(stream.completion, ChatCompletion)
        with client.stream(model="m") as default:
            for plain in default:
                assert_type(plain, ChatCompletionChunk)
        reply = client.complete(model="m", completion_type=AzureCompletion)
        assert_type(reply, AzureCompletion)
        assert_type(client.complete(model="m"), ChatCompletion)
    assert reply.text == "Hi!"
