"""pypdf on one PDF, in a process of its own.

    python -m pipeline.extractors.pdf_reader LIMITS_JSON  < file.pdf  > result.json

``pipeline.extractors.pdf`` starts this for every PDF. A hostile PDF can make
pypdf inflate gigabytes or parse millions of operators, and memory a Python
process once took is not given back: here it dies with this process, never
with a Celery worker. The process limits itself before it imports pypdf:

- its address space (``RLIMIT_AS``): past it an allocation fails with
  MemoryError, reported as ``{"error": "memory"}`` (or, if even that cannot
  be written, exit status MEMORY_EXIT_STATUS);
- its CPU time (``RLIMIT_CPU``), a backstop behind the parent's wall-clock
  timeout, so that it ends even if its parent was killed;
- a budget per document of decompressed bytes and of content-stream tokens
  (operators and operands), counted over all pages, fonts and forms. pypdf's
  own limits apply per stream: forty streams just under them each make
  three gigabytes.

It reads the PDF from standard input (the parent's unnamed temporary copy)
and writes one JSON object to standard output: the facts pypdf found (the
text of each page, the metadata title, the sizes of the first page's text,
a summary of pypdf's warnings) or an error code. What to make of them is the
parent's business. It never imports Django: no settings, keys or database
connection are within reach of the file it parses.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import sys
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

MEMORY_EXIT_STATUS = 3
# What the first page's text fragments and pypdf's warnings may add to the answer.
MAX_FIRST_PAGE_FRAGMENTS = 2000
MAX_WARNING_KINDS = 8


@dataclass(frozen=True)
class ReaderLimits:
    """Limits of one run, chosen by the parent."""

    memory_bytes: int
    cpu_seconds: int
    max_pages: int
    max_decompressed_bytes: int
    max_content_tokens: int
    max_text_chars: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ReaderLimits:
        return cls(**{key: int(value) for key, value in json.loads(text).items()})


class BudgetExceeded(BaseException):
    """The document is over one of its budgets. A BaseException on purpose:
    pypdf wraps fonts and pages in ``except Exception`` and would go on."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _Budget:
    def __init__(self, limits: ReaderLimits) -> None:
        self.bytes_left = limits.max_decompressed_bytes
        self.tokens_left = limits.max_content_tokens


def limit_process(limits: ReaderLimits) -> None:
    """Cap this process's address space and CPU time; no core dumps. A
    system that refuses a limit (macOS has no RLIMIT_AS to speak of) keeps
    the others and the parent's timeout."""
    wanted = (
        (resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)),
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_CORE, (0, 0)),
    )
    for which, values in wanted:
        try:
            resource.setrlimit(which, values)
        except (ValueError, OSError) as error:
            print(f"pdf_reader: limit {which} not set: {error}", file=sys.stderr)


class _WarningCounter(logging.Handler):
    """pypdf's warnings, counted by message template: a broken 117-page PDF
    logs 1,400 of them, which the parent reports once."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[str(record.msg)[:200]] += 1

    def summary(self) -> dict:
        return {
            "total": sum(self.counts.values()),
            "messages": [[count, message] for message, count in self.counts.most_common(MAX_WARNING_KINDS)],
        }


def _install_budget(budget: _Budget) -> None:
    """Count what pypdf decompresses and parses against the document's budget.

    pypdf decodes every stream through ``pypdf.filters.decode_stream_data``
    (looked up at each call) and parses every content stream through
    ``ContentStream._parse_content_stream``; wrapping both here, in this
    process only, sees all of it. Before each call pypdf's per-stream limits
    are lowered to what is left of the budget, so that no single stream can
    overshoot it.
    """
    from pypdf import apply_configuration, filters, get_configuration
    from pypdf.errors import LimitReachedError
    from pypdf.generic import ContentStream

    defaults = get_configuration()
    decode = filters.decode_stream_data
    parse = ContentStream._parse_content_stream

    def budgeted_decode(stream: Any) -> bytes:
        allowed = budget.bytes_left
        if allowed <= 0:
            raise BudgetExceeded("too_much_data")
        lowered = allowed < defaults.zlib_maximum_output_length
        limit = min(allowed, defaults.zlib_maximum_output_length)
        with apply_configuration(
            zlib_maximum_output_length=limit,
            lzw_maximum_output_length=min(limit, defaults.lzw_maximum_output_length),
            run_length_maximum_output_length=min(limit, defaults.run_length_maximum_output_length),
            brotli_maximum_output_length=min(limit, defaults.brotli_maximum_output_length),
            jbig2_maximum_output_length=min(limit, defaults.jbig2_maximum_output_length),
        ):
            try:
                data = decode(stream)
            except LimitReachedError:
                if lowered:
                    raise BudgetExceeded("too_much_data") from None
                raise
        budget.bytes_left -= len(data)
        if budget.bytes_left < 0:
            raise BudgetExceeded("too_much_data")
        return data

    def budgeted_parse(self: ContentStream, stream: Any) -> None:
        allowed = budget.tokens_left
        if allowed <= 0:
            raise BudgetExceeded("too_complex")
        lowered = allowed < defaults.stream_parsing_work_maximum_count
        with apply_configuration(
            stream_parsing_work_maximum_count=min(allowed, defaults.stream_parsing_work_maximum_count)
        ):
            try:
                parse(self, stream)
            except LimitReachedError:
                if lowered:
                    raise BudgetExceeded("too_complex") from None
                raise
        budget.tokens_left -= sum(1 + len(operands) for operands, _ in self._operations)
        if budget.tokens_left < 0:
            raise BudgetExceeded("too_complex")

    filters.decode_stream_data = budgeted_decode
    ContentStream._parse_content_stream = budgeted_parse


def _vertical_scale(cm: list[float], tm: list[float]) -> float:
    """How much the text matrix times the current matrix stretches text
    vertically (the font size on the page is the nominal size times this)."""
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    return math.hypot(c, d)


def _first_page_fragments() -> tuple[list[list], Any]:
    fragments: list[list] = []

    def visit(text: str, cm: list, tm: list, font_dict: Any, font_size: float) -> None:
        if len(fragments) >= MAX_FIRST_PAGE_FRAGMENTS or not text.strip():
            return
        try:
            size = float(font_size) * _vertical_scale([float(v) for v in cm], [float(v) for v in tm])
        except (TypeError, ValueError, IndexError):
            return
        if math.isfinite(size) and size > 0:
            fragments.append([round(size, 2), text[:500]])

    return fragments, visit


def _metadata_title(reader: Any) -> str:
    from pypdf.errors import PyPdfError

    try:
        title = (reader.metadata or {}).get("/Title")
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, LookupError):
        return ""  # broken metadata is no reason to lose the text
    return str(title or "")[:1000]


def read_pdf(handle: BinaryIO, limits: ReaderLimits) -> dict:
    """The facts of one PDF, or ``{"error": code, ...}``."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    counter = _WarningCounter()
    pypdf_logger = logging.getLogger("pypdf")
    pypdf_logger.addHandler(counter)
    pypdf_logger.setLevel(logging.WARNING)
    pypdf_logger.propagate = False
    budget = _Budget(limits)
    _install_budget(budget)

    try:
        reader = PdfReader(handle, strict=False)
    except FileNotDecryptedError:
        return {"error": "password"}
    except MemoryError:
        raise
    except Exception:  # broad-except-ok: any failure to parse a hostile file means "not readable"
        return {"error": "not_readable"}
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError:
            return {"error": "unsupported_encryption"}
        except MemoryError:
            raise
        except Exception:  # broad-except-ok: a password we do not have, in whatever form
            return {"error": "password"}
        if not opened:
            return {"error": "password"}
    try:
        count = len(reader.pages)
    except FileNotDecryptedError:
        return {"error": "password"}
    except MemoryError:
        raise
    except Exception:  # broad-except-ok: a broken page tree is an unreadable file
        return {"error": "not_readable"}
    if count == 0:
        return {"error": "no_pages"}
    if count > limits.max_pages:
        return {"error": "too_many_pages", "pages": count}

    pages: list[str] = []
    failed = 0
    # pypdf's own limit of one stream (not the document's budget) stopped a
    # page: if no page can be read, that is the reason to give.
    page_limit: str | None = None
    characters = 0
    fragments, visit = _first_page_fragments()
    for number in range(count):
        try:
            page = reader.pages[number]
            text = (page.extract_text(visitor_text=visit) if number == 0 else page.extract_text()) or ""
        except FileNotDecryptedError:
            return {"error": "password"}
        except LimitReachedError as error:
            failed += 1
            page_limit = "too_complex" if "token" in str(error).lower() else "too_much_data"
            text = ""
        except MemoryError:
            raise
        except Exception:  # broad-except-ok: one broken page must not lose the others
            failed += 1
            text = ""
        characters += len(text)
        if characters > limits.max_text_chars:
            return {"error": "too_much_text"}
        pages.append(text)
    if failed == count:
        return {"error": page_limit or "not_readable"}
    return {
        "pages": pages,
        "failed_pages": failed,
        "metadata_title": _metadata_title(reader),
        "first_page_fragments": fragments,
        "warnings": counter.summary(),
    }


def main(argv: list[str]) -> int:
    limits = ReaderLimits.from_json(argv[1])
    limit_process(limits)
    warnings.simplefilter("ignore")  # pypdf's deprecation notes are not the user's business
    try:
        with os.fdopen(sys.stdin.fileno(), "rb", closefd=False) as handle:
            result = read_pdf(handle, limits)
    except MemoryError:
        result = {"error": "memory"}
    except BudgetExceeded as exceeded:
        result = {"error": exceeded.code}
    except RecursionError:
        result = {"error": "not_readable"}  # deeply nested objects
    try:
        sys.stdout.write(json.dumps(result))
        sys.stdout.flush()
    except MemoryError:
        os._exit(MEMORY_EXIT_STATUS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
