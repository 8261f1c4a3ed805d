"""Message content as a list of typed parts: text, an image, audio, a file, a refusal.

A message's ``content`` is a string or a list of these parts. On the wire each part is
an object whose ``type`` names its kind and whose other field, named like the kind,
holds it (``{"type": "image_url", "image_url": {"url": "..."}}``); here that is a
tagged union of Structs, so msgspec reads the ``type`` and decodes the right one, and
always writes it.
"""

from __future__ import annotations

from typing import Literal, Union

import msgspec

__all__ = [
    "ContentPart",
    "FileContent",
    "FilePart",
    "ImageURL",
    "ImageURLPart",
    "InputAudio",
    "InputAudioPart",
    "RefusalPart",
    "TextPart",
    "text_of",
]


class _Part(msgspec.Struct, omit_defaults=True, tag_field="type"):
    """Base of the content parts: ``type`` is the tag, sent always."""


class TextPart(_Part, tag="text"):
    """Text: ``{"type": "text", "text": "..."}``."""

    text: str


class ImageURL(msgspec.Struct, omit_defaults=True):
    """An image by URL, or inline as a ``data:image/png;base64,...`` URL."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageURLPart(_Part, tag="image_url"):
    """An image: ``{"type": "image_url", "image_url": {"url": "...", "detail": "low"}}``."""

    image_url: ImageURL


class InputAudio(msgspec.Struct, omit_defaults=True):
    """Audio given inline: ``data`` in base64, ``format`` ``"wav"`` or ``"mp3"``."""

    data: str
    format: Literal["wav", "mp3"] | str


class InputAudioPart(_Part, tag="input_audio"):
    """Audio: ``{"type": "input_audio", "input_audio": {"data": "...", "format": "wav"}}``."""

    input_audio: InputAudio


class FileContent(msgspec.Struct, omit_defaults=True):
    """A file, inline (``file_data``, base64, with its ``filename``) or uploaded before
    (``file_id``)."""

    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(_Part, tag="file"):
    """A file: ``{"type": "file", "file": {"file_id": "..."}}``."""

    file: FileContent


class RefusalPart(_Part, tag="refusal"):
    """An assistant's refusal, sent back in a conversation: ``{"type": "refusal", ...}``."""

    refusal: str


ContentPart = Union[TextPart, ImageURLPart, InputAudioPart, FilePart, RefusalPart]  # noqa: UP007
"""Any one part of a message's content."""


def text_of(content: str | list[ContentPart] | None) -> str:
    """The text of a message's content: the string, or its text parts joined."""
    if content is None or type(content) is str:
        return content or ""
    return "".join(part.text for part in content if isinstance(part, TextPart))
