"""Checks of uploaded files: size first, then content, never the name.

Size limits (bytes):
- PDF and AUDIO: settings.MAX_UPLOAD_BYTES (default 25 MB, which is also the
  largest file OpenAI's speech-to-text accepts);
- CAPTIONS: at most 5 MB (and never above MAX_UPLOAD_BYTES): a caption file
  is text, and 5 MB of it is already days of speech.

A request whose declared Content-Length is above the largest limit (plus room
for the multipart framing) is refused before its body is read at all. Below
that, Django streams files over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary
file, so the size check of the parsed upload never holds a large file in
memory.

The type is judged from the bytes: the client's file name and content type
are ignored. The client's file name is kept only as a display name
(`display_filename`); the stored file gets a random name (see
notes.models.source_upload_path).
"""

import codecs
import re
import unicodedata

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from notes.models import Source

from .errors import PayloadTooLarge, UnsupportedFileType

Kind = Source.Kind

UPLOAD_KINDS = (Kind.PDF, Kind.AUDIO, Kind.CAPTIONS)
CAPTIONS_MAX_BYTES = 5 * 1024 * 1024
# Room for the multipart boundaries, headers and the small form fields.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# A JSON body carries at most MAX_TEXT_CHARS characters of text; escaped
# (\uXXXX) a character takes up to 6 bytes (12 for a surrogate pair, which
# counts as one character but is rare enough to ignore).
JSON_BYTES_PER_CHAR = 6

# Audio containers the transcription accepts (filetype's extension names);
# mp4 and webm are video containers that commonly carry a lecture's audio.
AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "wav", "ogg", "flac", "webm", "mp4"})
SNIFF_BYTES = 8192
SRT_TIMING = re.compile(
    r"^\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}", re.MULTILINE
)
VTT_HEADER = re.compile(r"^WEBVTT(?:[ \t].*)?$")
TEXT_CONTROL_CHARS = frozenset("\t\n\r\f")


def max_upload_bytes(kind: str) -> int:
    if kind == Kind.CAPTIONS:
        return min(CAPTIONS_MAX_BYTES, settings.MAX_UPLOAD_BYTES)
    return settings.MAX_UPLOAD_BYTES


def max_request_bytes(*, multipart: bool) -> int:
    """The largest body a create request may declare."""
    if multipart:
        return settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    return settings.MAX_TEXT_CHARS * JSON_BYTES_PER_CHAR + MULTIPART_OVERHEAD_BYTES


def reject_oversized_request(meta: dict) -> None:
    """413 from the declared Content-Length, before the body is read."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # Django's parser rejects a nonsensical length itself.
    multipart = (meta.get("CONTENT_TYPE") or "").lower().startswith("multipart/")
    limit = max_request_bytes(multipart=multipart)
    if length > limit:
        raise PayloadTooLarge(f"The request body has {length:,} bytes, above the limit of {limit:,} bytes.")


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


def _head(upload: UploadedFile, size: int = SNIFF_BYTES) -> bytes:
    upload.seek(0)
    head = upload.read(size)
    upload.seek(0)
    return head


def _is_pdf(upload: UploadedFile) -> bool:
    return _head(upload, 5) == b"%PDF-"


def _is_audio(upload: UploadedFile) -> bool:
    kind = filetype.guess(_head(upload))
    return kind is not None and kind.extension in AUDIO_EXTENSIONS


def _caption_text(raw: bytes) -> str | None:
    """The file as text, decoded as the captions extractor does (UTF-16 with
    a BOM, else UTF-8, else Latin-1), or None when it holds control
    characters that no text file has (a binary file decodes as Latin-1 too,
    but it is full of NULs and other C0 controls)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            return None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if any((char < " " or char == "\x7f") and char not in TEXT_CONTROL_CHARS for char in text):
        return None
    return text


def _is_captions(upload: UploadedFile) -> bool:
    """Text with a WEBVTT header or SRT timing lines. The file is at most
    CAPTIONS_MAX_BYTES (checked before), so reading it whole is fine."""
    upload.seek(0)
    try:
        text = _caption_text(upload.read())
    finally:
        upload.seek(0)
    if text is None:
        return False
    first_line = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0].strip()
    return bool(VTT_HEADER.match(first_line) or SRT_TIMING.search(text))


CONTENT_CHECKS = {
    Kind.PDF: (_is_pdf, "The file is not a PDF document (it does not start with %PDF-)."),
    Kind.AUDIO: (
        _is_audio,
        "The file is not a supported audio recording (mp3, m4a, wav, ogg, flac, webm or mp4).",
    ),
    Kind.CAPTIONS: (
        _is_captions,
        "The file is not a caption file: expected text in WebVTT (WEBVTT header) or SRT format.",
    ),
}


def check_upload(*, kind: str, upload: UploadedFile) -> None:
    """413 when the file is too large for its kind, 415 when its content is
    not of that kind."""
    limit = max_upload_bytes(kind)
    if upload.size > limit:
        raise PayloadTooLarge(
            f"The file has {upload.size:,} bytes, above the limit of {limit:,} bytes for {kind} sources."
        )
    check, message = CONTENT_CHECKS[kind]
    if not check(upload):
        raise UnsupportedFileType(message)
