"""purai_proto: the sans-IO core of purai.

Bytes in, objects out, and no I/O: nothing here opens a socket, sleeps or starts a
task, so any event loop (or none) can drive it.
"""

from ._accumulator import StreamAccumulator
from ._connection import DEFAULT_MAX_ERROR_BODY_SIZE, DEFAULT_MAX_HEADER_SIZE, ClientConnection
from ._content_encoding import DEFAULT_MAX_DECOMPRESSED_SIZE
from ._decoding import DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_OBJECT_SIZE, ChunkDecoder, Framing
from ._encoder import StreamEncoder, StreamFraming, encode_json
from ._errors import LocalProtocolError, PuraiError, RemoteProtocolError
from ._events import (
    NEED_DATA,
    ChunkReceived,
    CompletionReceived,
    ErrorReceived,
    Event,
    NeedData,
    ResponseStarted,
    StreamEnded,
)
from ._http import (
    DEFAULT_PATH,
    HttpParserName,
    check_headers,
    check_request,
    httptools_available,
)
from ._models import (
    CacheReport,
    CalledFunction,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    ErrorBody,
    ErrorDetail,
    FunctionCall,
    FunctionDefinition,
    Message,
    ProviderRecord,
    ProviderResponse,
    Tool,
    ToolCall,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "DEFAULT_MAX_ERROR_BODY_SIZE",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_OBJECT_SIZE",
    "DEFAULT_PATH",
    "NEED_DATA",
    "CacheReport",
    "CalledFunction",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "ChunkDecoder",
    "ChunkReceived",
    "ClientConnection",
    "CompletionReceived",
    "Delta",
    "ErrorBody",
    "ErrorDetail",
    "ErrorReceived",
    "Event",
    "Framing",
    "FunctionCall",
    "FunctionDefinition",
    "HttpParserName",
    "LocalProtocolError",
    "Message",
    "NeedData",
    "ProviderRecord",
    "ProviderResponse",
    "PuraiError",
    "RemoteProtocolError",
    "ResponseStarted",
    "StreamAccumulator",
    "StreamEncoder",
    "StreamEnded",
    "StreamFraming",
    "Tool",
    "ToolCall",
    "Usage",
    "__version__",
    "check_headers",
    "check_request",
    "encode_json",
    "httptools_available",
]
