"""Write the fuzzers' starting inputs: valid streams in every framing, and replies.

``python -m fuzz.make_seeds`` (re)writes ``fuzz/seeds/``; the fuzzers start from
there and from the corpus they grew, ``fuzz/corpus/``.
"""

from __future__ import annotations

import gzip
import typing
import zlib
from pathlib import Path

import msgspec

from purai_proto import ChatCompletion, ChatRequest, Message, StreamEncoder, StreamFraming
from purai_transports.server import stream_chunks

HERE = Path(__file__).parent
FRAMING_BYTE = {"auto": 0, "concatenated": 1, "sse": 2, "ndjson": 3, "json-array": 4}


def streams() -> dict[str, bytes]:
    request = ChatRequest(model="m", messages=[Message("user", "code please")], stream=True)
    out = {}
    for dialect in ("purai", "openai"):
        chunks = stream_chunks(request, 'a}{b "q" \\ é 😀 {x}', dialect=dialect, chunk_size=4)
        for framing in typing.get_args(StreamFraming):
            encoder = StreamEncoder(framing)
            body = encoder.start() + b"".join(encoder.encode(c) for c in chunks) + encoder.end()
            out[f"{dialect}-{framing}"] = body
    out["error-object"] = b'{"choices":[]}{"status":503,"error":"Model is not available"}'
    out["sse-error-event"] = b'data: {}\n\nevent: error\ndata: {"error":{"message":"x"}}\n\n'
    return out


def replies(bodies: dict[str, bytes]) -> dict[str, bytes]:
    def chunked(body: bytes, size: int = 40) -> bytes:
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"

    seed = bodies["purai-concatenated"]
    sse = bodies["openai-sse"]
    completion = msgspec.json.encode(ChatCompletion(model="m"))
    head = b"HTTP/1.1 200 OK\r\n"
    return {
        "chunked": head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(seed),
        "length": head + b"Content-Length: %d\r\n\r\n" % len(seed) + seed,
        "close": b"HTTP/1.0 200 OK\r\n\r\n" + seed,
        "gzip": head
        + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(gzip.compress(seed)),
        "deflate-sse": head + b"Content-Type: text/event-stream\r\nContent-Encoding: deflate\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(zlib.compress(sse)),
        "completion": head
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(completion)
        + completion,
        "error-503": b"HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 44\r\n\r\n"
        b'{"status":503,"error":"Model is not here"}  ',
        "error-html": b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>x</html>",
    }


def write(folder: Path, inputs: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in inputs.items():
        (folder / name).write_bytes(data)


def main() -> None:
    bodies = streams()
    decoder_inputs = {}
    for name, body in bodies.items():
        for framing, number in FRAMING_BYTE.items():
            for type_bit in (0, 0x80):
                decoder_inputs[f"{name}-{framing}-{type_bit}"] = (
                    bytes([number | type_bit, 7]) + body
                )
    write(HERE / "seeds" / "decoder", decoder_inputs)
    connection_inputs = {
        f"{name}-{flag}": bytes([flag | 14]) + reply
        for name, reply in replies(bodies).items()
        for flag in (0, 1)
    }
    write(HERE / "seeds" / "connection", connection_inputs)
    print(f"{len(decoder_inputs)} decoder and {len(connection_inputs)} connection seeds")


if __name__ == "__main__":
    main()
