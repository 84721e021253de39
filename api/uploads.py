"""Checks of uploaded files: size first, then content, never the name.

Size limits (bytes):
- PDF and AUDIO: settings.MAX_UPLOAD_BYTES (default 25 MB, which is also the
  largest file OpenAI's speech-to-text accepts);
- CAPTIONS: at most 5 MB (and never above MAX_UPLOAD_BYTES): a caption file
  is text, and 5 MB of it is already days of speech.

The request body itself is bounded before it is read (api.body_limits). Below
that, Django streams files over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary
file, so the size check of the parsed upload never holds a large file in
memory.

The type is judged from the bytes: the client's file name and content type
are ignored. Only the first SNIFF_BYTES are looked at, with checks that take
time linear in that prefix (no pattern can run across lines): a request never
parses a whole file. Full parsing is the worker's job, which fails the source
with a readable reason when the rest of the file is not what its start says.

The client's file name is kept only as a display name (`display_filename`);
the stored file gets a random name (see notes.models.source_upload_path).
"""

import codecs
import re
import unicodedata
from itertools import pairwise

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from notes.models import Source

from .errors import PayloadTooLarge, UnsupportedFileType

Kind = Source.Kind

UPLOAD_KINDS = (Kind.PDF, Kind.AUDIO, Kind.CAPTIONS)
CAPTIONS_MAX_BYTES = 5 * 1024 * 1024

# Audio containers the transcription accepts (filetype's extension names);
# mp4 and webm are video containers that commonly carry a lecture's audio.
AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "wav", "ogg", "flac", "webm", "mp4"})
# How much of a file the checks read: what filetype looks at, and room for a
# caption file's header and first cues.
SNIFF_BYTES = 8192

# Caption patterns, matched against one line at a time (the prefix is split
# on newlines first): whitespace is spaces and tabs only, so no quantifier
# can run across lines, and no two quantifiers compete for the same
# characters. The timestamp is the captions extractor's: optional hours,
# optional fraction.
_TIMESTAMP = r"(?:\d{1,3}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
CAPTION_TIMING = re.compile(rf"[ \t]*{_TIMESTAMP}[ \t]*-->[ \t]*{_TIMESTAMP}(?:[ \t].*)?")
SRT_INDEX = re.compile(r"[ \t]*\d{1,9}[ \t]*")
VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
# Characters that no text file holds: C0 controls but tab, newlines and form
# feed, and DEL (a binary file decodes as Latin-1 too, full of them).
_BINARY_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def max_upload_bytes(kind: str) -> int:
    if kind == Kind.CAPTIONS:
        return min(CAPTIONS_MAX_BYTES, settings.MAX_UPLOAD_BYTES)
    return settings.MAX_UPLOAD_BYTES


def display_filename(name: str | None) -> str:
    """The client's file name reduced to something safe to show: its last
    path component, without control characters, at most 255 characters.
    Never used as a path."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if not unicodedata.category(char).startswith("C"))
    name = " ".join(name.split())
    if name in {".", ".."}:
        return ""
    return name[:255]


def _head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    try:
        return upload.read(SNIFF_BYTES)
    finally:
        upload.seek(0)


def looks_like_pdf(head: bytes) -> bool:
    return head.startswith(b"%PDF-")


def looks_like_audio(head: bytes) -> bool:
    kind = filetype.guess(head)
    return kind is not None and kind.extension in AUDIO_EXTENSIONS


def caption_prefix_text(head: bytes) -> str | None:
    """The start of a caption file as text, decoded as the captions extractor
    does (UTF-16 with a BOM, else UTF-8, else Latin-1), or None when it holds
    characters that no text file has.

    `head` is a prefix: a character cut in two at its end is not an error
    (an incremental decoder keeps it back)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoder = codecs.getincrementaldecoder("utf-16")()
    else:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        text = head.decode("latin-1")
    if _BINARY_CHARS.search(text):
        return None
    return text


def looks_like_captions(head: bytes) -> bool:
    """Text with a WEBVTT header, or an SRT cue: a line of digits followed
    by a timing line. Linear in the prefix: it is split into lines once and
    each pattern is matched at the start of one line."""
    text = caption_prefix_text(head)
    if text is None:
        return False
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff \t\n").split("\n")
    if VTT_HEADER.fullmatch(lines[0].rstrip(" \t")):
        return True
    # The last line may be cut off by the prefix: it is never an index line
    # whose timing line follows.
    return any(
        SRT_INDEX.fullmatch(line) and CAPTION_TIMING.fullmatch(following)
        for line, following in pairwise(lines)
    )


CONTENT_CHECKS = {
    Kind.PDF: (looks_like_pdf, "The file is not a PDF document (it does not start with %PDF-)."),
    Kind.AUDIO: (
        looks_like_audio,
        "The file is not a supported audio recording (mp3, m4a, wav, ogg, flac, webm or mp4).",
    ),
    Kind.CAPTIONS: (
        looks_like_captions,
        "The file is not a caption file: expected text in WebVTT (WEBVTT header) or SRT format.",
    ),
}


def check_upload(*, kind: str, upload: UploadedFile) -> None:
    """413 when the file is too large for its kind, 415 when its start is
    not of that kind. Reads at most SNIFF_BYTES of the file."""
    limit = max_upload_bytes(kind)
    if upload.size > limit:
        raise PayloadTooLarge(
            f"The file has {upload.size:,} bytes, above the limit of {limit:,} bytes for {kind} sources."
        )
    check, message = CONTENT_CHECKS[kind]
    if not check(_head(upload)):
        raise UnsupportedFileType(message)
