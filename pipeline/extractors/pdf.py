"""PDF text extraction.

pypdf runs in a child process (``pipeline.extractors.pdf_reader``) with its
own limits of memory, CPU time, decompressed bytes and content-stream
tokens, started with ``subprocess`` (Celery's prefork children are daemonic
and may not have ``multiprocessing`` children of their own). It reads an
unnamed temporary copy of the file, which the system deletes when it is
closed, whatever happens to either process. What it returns is cleaned
here: ligatures (``ﬁ`` -> ``fi``), words split at line ends, running
headers and footers and back matter marked as excluded ranges, a title.

Every way a PDF can go wrong ends in an ExtractionError with a message a user
can act on: password-protected, not a readable PDF, scanned images without a
text layer, too many pages, or a file that needs more memory or time than
allowed (a PDF bomb). Celery's SoftTimeLimitExceeded is never caught here:
it stops the child (``subprocess.run`` kills it) and reaches the task.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from .base import Anchor, Extracted, ExtractionError
from .pdf_layout import excluded_lines
from .pdf_reader import MEMORY_EXIT_STATUS, ReaderLimits
from .text import normalize_text
from .titles import clean_title, is_meaningful_title, title_from_metadata

logger = logging.getLogger(__name__)

MAX_PAGES = 500
# Defaults of the settings read in PdfLimits.from_settings.
# pypdf's raw text holds more blanks than the cleaned text: the child stops
# once it has this many times MAX_TEXT_CHARS.
RAW_TEXT_FACTOR = 4
_READER_MODULE = "pipeline.extractors.pdf_reader"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_COPY_CHUNK_BYTES = 1024 * 1024
_STDERR_LOG_CHARS = 2000

_NOT_READABLE = "The file is not a readable PDF (it may be damaged or not a PDF at all)."
_PASSWORD = "The PDF is password-protected. Remove the password and upload it again."
_UNSUPPORTED_ENCRYPTION = (
    "The PDF is encrypted with a method that cannot be opened here. "
    "Save or print it as an unprotected PDF and upload it again."
)
_NO_TEXT = (
    "The PDF contains no extractable text (is it scanned images?). "
    "Upload a PDF with a text layer, or run it through OCR first."
)
_REMAKE = "It may be damaged or built to exhaust the reader; printing it to a new PDF often helps."

# A hyphen at a line end splitting a word: "photo-\nsynthesis" -> "photosynthesis".
_LINE_END_HYPHEN_RE = re.compile(r"(\w)-\n[ \t]*([a-z])")
_SOFT_HYPHEN_RE = re.compile("\u00ad\n?")
# Latin (and Armenian) typographic ligatures, and the few letters Unicode
# composes from two: NFKC takes them apart. Only them: NFKC of everything
# would also turn "x²" into "x2" and "H₂O" into "H2O".
_LIGATURE_RE = re.compile(
    "[\ufb00-\ufb06\ufb13-\ufb17\u0132\u0133\u013f\u0140\u0149\u01c4-\u01cc\u01f1-\u01f3]"
)
_FIRST_LINE_MAX_CHARS = 90
_FIRST_LINE_MAX_WORDS = 14
_HEADING_MIN_RATIO = 1.15


@dataclass(frozen=True)
class PdfLimits:
    """What one PDF may cost. ``seconds`` is wall-clock time of the child."""

    memory_bytes: int
    seconds: float
    max_decompressed_bytes: int
    max_content_tokens: int
    max_text_chars: int
    max_pages: int = MAX_PAGES

    @classmethod
    def from_settings(cls) -> PdfLimits:
        """The limits of the settings; the time limit always ends before the
        task's soft time limit, so that the task reports it as the PDF's."""
        soft_limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        seconds = min(settings.PDF_EXTRACTION_TIME_LIMIT, max(1.0, soft_limit - max(1.0, soft_limit / 10)))
        return cls(
            memory_bytes=settings.PDF_EXTRACTION_MEMORY_LIMIT,
            seconds=seconds,
            max_pages=MAX_PAGES,
            max_decompressed_bytes=settings.PDF_MAX_DECOMPRESSED_BYTES,
            max_content_tokens=settings.PDF_MAX_CONTENT_TOKENS,
            max_text_chars=settings.MAX_TEXT_CHARS,
        )

    def for_reader(self) -> ReaderLimits:
        return ReaderLimits(
            memory_bytes=self.memory_bytes,
            # A backstop behind the wall-clock timeout: CPU time never exceeds it.
            cpu_seconds=math.ceil(self.seconds) + 1,
            max_pages=self.max_pages,
            max_decompressed_bytes=self.max_decompressed_bytes,
            max_content_tokens=self.max_content_tokens,
            max_text_chars=self.max_text_chars * RAW_TEXT_FACTOR,
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


def _too_slow(limits: PdfLimits) -> ExtractionError:
    return ExtractionError(
        f"Reading the PDF took longer than {limits.seconds:g} s and was stopped. {_REMAKE}"
    )


def _too_big(limits: PdfLimits) -> ExtractionError:
    return ExtractionError(
        f"The PDF needs more memory than allowed ({_megabytes(limits.memory_bytes)}) to be read. {_REMAKE}"
    )


def _reader_error(answer: dict, limits: PdfLimits) -> ExtractionError:
    code = answer.get("error")
    if code == "memory":
        return _too_big(limits)
    if code == "password":
        return ExtractionError(_PASSWORD)
    if code == "unsupported_encryption":
        return ExtractionError(_UNSUPPORTED_ENCRYPTION)
    if code == "no_pages":
        return ExtractionError("The PDF has no pages.")
    if code == "too_many_pages":
        return ExtractionError(
            f"The PDF has {answer.get('pages')} pages; at most {limits.max_pages} pages can be processed. "
            "Split it into smaller parts."
        )
    if code == "too_much_data":
        return ExtractionError(
            f"The PDF's compressed content unpacks to more than {_megabytes(limits.max_decompressed_bytes)}, "
            f"more than can be read. {_REMAKE}"
        )
    if code == "too_complex":
        return ExtractionError(
            f"The PDF's pages hold more than {limits.max_content_tokens:,} drawing instructions, "
            f"more than can be read. {_REMAKE}"
        )
    if code == "too_much_text":
        return ExtractionError(
            f"The PDF's text is longer than the limit of {limits.max_text_chars:,} characters "
            "(MAX_TEXT_CHARS). Split it into smaller parts."
        )
    return ExtractionError(_NOT_READABLE)


def _reader_environment() -> dict[str, str]:
    """Only what Python needs: the child that parses an untrusted file sees
    none of the worker's keys."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(_PROJECT_ROOT),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def read_pdf_in_child(fileobj: BinaryIO, limits: PdfLimits) -> dict:
    """What ``pdf_reader`` finds in the PDF, read in a child process under
    ``limits``. Raises ExtractionError."""
    started = time.monotonic()
    # An unnamed file (O_TMPFILE where the system has it): gone when closed,
    # even if this process is killed.
    with tempfile.TemporaryFile(prefix="studynaut-pdf-") as copy:
        shutil.copyfileobj(fileobj, copy, _COPY_CHUNK_BYTES)
        copy.seek(0)
        try:
            # Our own module, no shell, nothing of the user's in the arguments.
            completed = subprocess.run(
                [sys.executable, "-m", _READER_MODULE, limits.for_reader().to_json()],
                stdin=copy,
                capture_output=True,
                timeout=limits.seconds,
                cwd=_PROJECT_ROOT,
                env=_reader_environment(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            # subprocess.run has killed the child and waited for it.
            raise _too_slow(limits) from None
    elapsed = time.monotonic() - started
    stderr = completed.stderr.decode("utf-8", "replace")[-_STDERR_LOG_CHARS:]
    if completed.returncode == 0:
        try:
            answer = json.loads(completed.stdout)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            return answer
    if completed.returncode == MEMORY_EXIT_STATUS or "MemoryError" in stderr:
        raise _too_big(limits)
    if completed.returncode == -signal.SIGXCPU:
        raise _too_slow(limits)
    if completed.returncode == -signal.SIGKILL:
        # The CPU limit's hard stop, or the system's out-of-memory killer.
        raise _too_slow(limits) if elapsed >= limits.seconds * 0.9 else _too_big(limits)
    logger.info("the PDF reader ended with status %s: %s", completed.returncode, stderr)
    raise ExtractionError(_NOT_READABLE)


def _normalize_ligatures(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return _LIGATURE_RE.sub(lambda match: unicodedata.normalize("NFKC", match.group(0)), text)


def clean_page_text(text: str) -> str:
    """pypdf's text of one page, readable: ligatures taken apart, words split
    at line ends joined, blanks collapsed within lines, blank lines capped."""
    text = _normalize_ligatures(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SOFT_HYPHEN_RE.sub("", text)
    text = _LINE_END_HYPHEN_RE.sub(r"\1\2", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return normalize_text("\n".join(lines))


def _line_ranges(start: int, lines: list[str], excluded: set[int]) -> list[tuple[int, int]]:
    """Character ranges of the excluded lines of a page whose text starts at
    ``start``: consecutive lines as one range, with the newline that ends it
    (or, for the page's last line, the one before it)."""
    ranges: list[tuple[int, int]] = []
    offset = start
    run_start: int | None = None
    for index, line in enumerate(lines):
        line_end = offset + len(line)
        if index in excluded:
            if run_start is None:
                run_start = offset
            if index + 1 == len(lines):
                ranges.append((run_start - 1 if run_start > start else run_start, line_end))
                run_start = None
            elif index + 1 not in excluded:
                ranges.append((run_start, line_end + 1))
                run_start = None
        offset = line_end + 1
    return ranges


def _heading(fragments: list) -> str:
    """The first page's largest text, when it is clearly larger than the body."""
    sized = [(float(size), str(text)) for size, text in fragments if str(text).strip()]
    if not sized:
        return ""
    characters: Counter[int] = Counter()
    for size, text in sized:
        characters[round(size)] += len(text.strip())
    body = characters.most_common(1)[0][0]
    largest = max(size for size, _ in sized)
    if largest < body * _HEADING_MIN_RATIO:
        return ""
    heading = clean_title(
        _normalize_ligatures(" ".join(text for size, text in sized if size >= largest - 0.5))
    )
    return heading if is_meaningful_title(heading) else ""


def _first_short_line(lines: list[str], excluded: set[int]) -> str:
    """The first line of the first page when it reads like a title: short,
    not a sentence."""
    for index, line in enumerate(lines):
        if index in excluded or not line.strip():
            continue
        title = clean_title(line)
        short = len(title) <= _FIRST_LINE_MAX_CHARS and len(title.split()) <= _FIRST_LINE_MAX_WORDS
        if short and not title.endswith((".", ",", ";")) and is_meaningful_title(title):
            return title
        return ""  # the first line of the page is body text: no title there
    return ""


def pdf_to_text(fileobj: BinaryIO, *, limits: PdfLimits | None = None) -> Extracted:
    """The text of a PDF, pages separated by blank lines, with an anchor at the
    start of each page, the running headers, footers and back matter as
    excluded ranges, and the document's title: its metadata title unless
    that is a placeholder, else its first page's heading.

    Raises ExtractionError for a password-protected, unreadable, image-only,
    too long or too costly PDF.
    """
    limits = limits or PdfLimits.from_settings()
    answer = read_pdf_in_child(fileobj, limits)
    if "error" in answer:
        raise _reader_error(answer, limits)
    warnings = answer.get("warnings") or {}
    if warnings.get("total"):
        logger.debug(
            "pypdf reported %d warnings reading a PDF of %d pages: %s",
            warnings["total"],
            len(answer["pages"]),
            "; ".join(f"{count} x {message}" for count, message in warnings.get("messages", [])),
        )

    numbered_pages = [
        (number, clean_page_text(raw).split("\n")) for number, raw in enumerate(answer["pages"], start=1)
    ]
    numbered_pages = [(number, lines) for number, lines in numbered_pages if any(lines)]
    excluded_by_page = excluded_lines([lines for _, lines in numbered_pages])
    parts: list[str] = []
    anchors: list[Anchor] = []
    excluded: list[tuple[int, int]] = []
    offset = 0
    for (number, lines), excluded_here in zip(numbered_pages, excluded_by_page, strict=True):
        if parts:
            parts.append("\n\n")  # the blank line between pages
            offset += 2
        anchors.append(Anchor(offset, page=number))
        excluded.extend(_line_ranges(offset, lines, excluded_here))
        page = "\n".join(lines)
        parts.append(page)
        offset += len(page)
    text = "".join(parts)
    if not re.search(r"\w", text):
        raise ExtractionError(_NO_TEXT)

    title = title_from_metadata(answer.get("metadata_title", ""))
    if not title:
        title = _heading(answer.get("first_page_fragments") or [])
    if not title and numbered_pages and numbered_pages[0][0] == 1:
        title = _first_short_line(numbered_pages[0][1], excluded_by_page[0])
    return Extracted(text=text, anchors=tuple(anchors), title=title, excluded=tuple(excluded))
