"""PDF text extraction with pypdf.

Every way a PDF can go wrong ends in an ExtractionError with a message a user
can act on: password-protected, not a readable PDF, scanned images without a
text layer, or too many pages.
"""

from __future__ import annotations

import logging
import re
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

from .base import Anchor, Extracted, ExtractionError
from .text import normalize_text

logger = logging.getLogger(__name__)

MAX_PAGES = 500

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

# A hyphen at a line end splitting a word: "photo-\nsynthesis" -> "photosynthesis".
_LINE_END_HYPHEN_RE = re.compile(r"(\w)-\n[ \t]*([a-z])")
_SOFT_HYPHEN_RE = re.compile("\u00ad\n?")


def _open(fileobj: BinaryIO) -> PdfReader:
    try:
        reader = PdfReader(fileobj, strict=False)
    except FileNotDecryptedError as error:
        raise ExtractionError(_PASSWORD) from error
    except (PdfReadError, PyPdfError) as error:
        raise ExtractionError(_NOT_READABLE) from error
    except Exception as error:  # pypdf can fail in many ways on a broken file
        logger.info("pypdf could not parse a PDF: %r", error)
        raise ExtractionError(_NOT_READABLE) from error
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as error:
            raise ExtractionError(_UNSUPPORTED_ENCRYPTION) from error
        except Exception as error:
            raise ExtractionError(_PASSWORD) from error
        if not opened:
            raise ExtractionError(_PASSWORD)
    return reader


def _page_texts(reader: PdfReader) -> list[str]:
    try:
        count = len(reader.pages)
    except FileNotDecryptedError as error:
        raise ExtractionError(_PASSWORD) from error
    except Exception as error:
        raise ExtractionError(_NOT_READABLE) from error
    if count == 0:
        raise ExtractionError("The PDF has no pages.")
    if count > MAX_PAGES:
        raise ExtractionError(
            f"The PDF has {count} pages; at most {MAX_PAGES} pages can be processed. "
            "Split it into smaller parts."
        )
    texts: list[str] = []
    failed = 0
    for number in range(count):
        try:
            texts.append(reader.pages[number].extract_text() or "")
        except FileNotDecryptedError as error:
            raise ExtractionError(_PASSWORD) from error
        except Exception as error:  # one broken page should not lose the others
            logger.info("pypdf could not read page %d: %r", number + 1, error)
            failed += 1
            texts.append("")
    if failed == count:
        raise ExtractionError(_NOT_READABLE)
    return texts


def _clean_page(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SOFT_HYPHEN_RE.sub("", text)
    text = _LINE_END_HYPHEN_RE.sub(r"\1\2", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines)


def pdf_to_text(fileobj: BinaryIO) -> Extracted:
    """The text of a PDF, pages separated by blank lines, with an anchor at the
    start of each page, and the document's title from its metadata.

    Raises ExtractionError for a password-protected, unreadable, image-only
    or too long PDF.
    """
    reader = _open(fileobj)
    parts: list[str] = []
    anchors: list[Anchor] = []
    offset = 0
    for number, raw in enumerate(_page_texts(reader), start=1):
        page = normalize_text(_clean_page(raw))
        if not page:
            continue
        if parts:
            offset += 2  # the blank line between pages
        anchors.append(Anchor(offset, page=number))
        parts.append(page)
        offset += len(page)
    text = "\n\n".join(parts)
    if not re.search(r"\w", text):
        raise ExtractionError(_NO_TEXT)
    return Extracted(text=text, anchors=tuple(anchors), title=_metadata_title(reader))


def _metadata_title(reader: PdfReader) -> str:
    try:
        title = (reader.metadata or {}).get("/Title")
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError):
        return ""  # broken metadata is no reason to lose the text
    title = " ".join(str(title or "").split())
    return title[:255]
