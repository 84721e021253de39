"""Lines of a PDF that a note is not written from: running headers and
footers (a course name, a chapter title, "Page 3 of 40" on every page), and
back matter: a bibliography, an index, a table of contents.

The judgement works on the cleaned text of each page, line by line (pypdf
gives no reliable positions): headers and footers are among the first and
last few lines of a page, and repeat, once page numbers are read as "#".
Back matter starts at a heading ("References", "Index", "Contents", in a
few languages) and runs on while its lines look like entries of that kind.

Every check looks at a bounded part of a line (its first or last few dozen
characters), so the whole runs in linear time.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

# How many non-empty lines at the top and the bottom of a page may be a
# running header or footer.
ZONE_LINES = 3
MIN_PAGES = 3
# A repeated line is running when it is on at least this share of the pages,
MIN_SHARE = 0.25
# or on this many pages close together (a chapter's running head).
MIN_RUN = 4
MAX_RUN_GAP = 2
MAX_RUNNING_LINE_CHARS = 150
# Back matter goes on while at least this share of a page's lines are entries.
MIN_ENTRY_SHARE = 0.4
MIN_ENTRIES = 3
# The heading of back matter stands among the first lines of a page, except
# references, which often start below a paper's conclusion.
HEADING_LINES = 6
# Back matter that would leave less than this share of the text for the note
# is the document itself (a reading list): it stays in.
MIN_KEPT_SHARE = 0.2

_DIGITS_RE = re.compile(r"\d+")
_ROMAN_RE = re.compile(r"^[ivxlcdm]{1,7}$")
_NUMBERING_RE = re.compile(
    r"^(?:(?:chapter|part|appendix|section|kapitel|chapitre|cap[ií]tulo)\s+)?[\dA-Z]{1,3}[.)]?\s+"
)

_REFERENCES = "references"
_INDEX = "index"
_CONTENTS = "contents"
_HEADINGS = {
    _REFERENCES: {
        "references", "reference list", "references and notes", "bibliography", "works cited",
        "literature cited", "literature", "cited literature", "further reading", "sources",
        "literatur", "literaturverzeichnis", "quellenverzeichnis", "quellen", "bibliographie",
        "références", "références bibliographiques", "referencias", "bibliografía",
        "referencias bibliográficas", "bibliografia", "riferimenti bibliografici", "referências",
        "referências bibliográficas",
    },
    _INDEX: {
        "index", "subject index", "author index", "name index", "general index", "register",
        "sachregister", "stichwortverzeichnis", "index alphabétique", "índice alfabético",
        "índice analítico", "indice analitico", "índice remissivo",
    },
    _CONTENTS: {
        "contents", "table of contents", "inhalt", "inhaltsverzeichnis", "table des matières",
        "sommaire", "índice", "indice", "contenido", "contenidos", "sumário", "sommario",
    },
}  # fmt: skip

_YEAR_RE = re.compile(r"(?<!\d)(?:1[5-9]|20)\d\d[a-z]?(?!\d)")
_REFERENCE_MARK_RE = re.compile(
    r"\bdoi\b|\bet al\b|\bpp\.|\bvol\.|https?://|\bisbn\b|\bjournal\b|\bproceedings\b|\bpress\b|\bed(?:s)?\.",
    re.IGNORECASE,
)
_REFERENCE_NUMBER_RE = re.compile(r"^\s*(?:\[\d{1,4}\]|\d{1,4}\.\s)")
# Page numbers at the end of an index entry or a contents line:
# "mitochondria, 12, 45-47", "2.3 Glycolysis ........ 41", "Preface ix".
_PAGE_LIST_RE = re.compile(
    r"(?:^|[\s,.;:])(?:\d{1,4}(?:[-\u2013]\d{1,4})?|[ivxlc]{1,6})[.,]?$", re.IGNORECASE
)
_SEE_ALSO_RE = re.compile(r"\bsee(?: also)?\b", re.IGNORECASE)


def _running_key(line: str) -> str:
    """The line as a running header or footer repeats it: page numbers as #."""
    key = " ".join(line.casefold().split())
    if _ROMAN_RE.match(key):
        return "#"
    return _DIGITS_RE.sub("#", key)


def _is_page_number(key: str) -> bool:
    """ "#", "- # -", "page #", "page # of #", "# / #", "seite #"."""
    words = re.sub(r"[^\w#]+", " ", key).split()
    return (
        bool(words)
        and "#" in words
        and all(word in {"#", "page", "of", "seite", "página", "pagina", "von", "de", "p"} for word in words)
    )


def _zones(lines: Sequence[str]) -> list[int]:
    """Indexes of the first and last ZONE_LINES non-empty lines."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:ZONE_LINES]) | set(filled[-ZONE_LINES:]))


def _numbers(line: str) -> list[int]:
    return [int(digits) for digits in _DIGITS_RE.findall(line)[:4]]


def _numbers_are_running(places: list[tuple[int, str]]) -> bool:
    """Whether the numbers of lines that differ only in them are a running
    header's: each one the same on every page ("Lecture 4") or the page's
    number give or take a constant ("Page 7 of 40"). Slide titles
    "Exercise 1" ... "Exercise 5" are not."""
    rows = [(page, _numbers(line)) for page, line in places]
    width = min(len(numbers) for _, numbers in rows)
    if width == 0:
        return True  # roman page numbers, or no numbers at all
    for column in range(width):
        values = [numbers[column] for _, numbers in rows]
        if len(set(values)) == 1:
            continue
        offsets = Counter(value - page for page, value in ((page, numbers[column]) for page, numbers in rows))
        if offsets.most_common(1)[0][1] < 0.8 * len(rows):
            return False
    return True


def _running_lines(pages: Sequence[Sequence[str]]) -> list[set[int]]:
    with_text = [index for index, lines in enumerate(pages) if any(line.strip() for line in lines)]
    excluded: list[set[int]] = [set() for _ in pages]
    if len(with_text) < MIN_PAGES:
        return excluded
    where: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for page_index in with_text:
        for line_index in _zones(pages[page_index]):
            line = pages[page_index][line_index]
            if len(line) <= MAX_RUNNING_LINE_CHARS:
                where[_running_key(line)].append((page_index, line_index))
    threshold = max(MIN_PAGES, math.ceil(MIN_SHARE * len(with_text)))
    for key, places in where.items():
        page_numbers = sorted({page for page, _ in places})
        running = len(page_numbers) >= threshold or _longest_run(page_numbers) >= MIN_RUN
        if not running and _is_page_number(key):
            running = len(page_numbers) >= MIN_PAGES
        if running and "#" in key:
            running = _numbers_are_running([(page, pages[page][line]) for page, line in places])
        if running:
            for page, line in places:
                excluded[page].add(line)
    return excluded


def _longest_run(pages: list[int]) -> int:
    longest = current = 0
    previous: int | None = None
    for page in pages:
        current = current + 1 if previous is not None and page - previous <= MAX_RUN_GAP else 1
        longest = max(longest, current)
        previous = page
    return longest


def _heading_kind(line: str) -> str | None:
    text = line.strip()
    if not text or len(text) > 60:
        return None
    text = _NUMBERING_RE.sub("", text).strip(" .:").casefold()
    text = " ".join(text.split())
    for kind, headings in _HEADINGS.items():
        if text in headings:
            return kind
    return None


def _is_entry(kind: str, line: str) -> bool:
    text = line.strip()
    if kind == _REFERENCES:
        head = text[:300]
        return bool(
            _YEAR_RE.search(head) or _REFERENCE_MARK_RE.search(head) or _REFERENCE_NUMBER_RE.match(head)
        )
    tail = text[-40:]
    return bool(_PAGE_LIST_RE.search(tail) or (kind == _INDEX and _SEE_ALSO_RE.search(tail)))


def _looks_like(kind: str, lines: Sequence[str], *, min_entries: int = MIN_ENTRIES) -> bool:
    filled = [line for line in lines if line.strip()]
    entries = sum(1 for line in filled if _is_entry(kind, line))
    return entries >= min_entries and entries >= MIN_ENTRY_SHARE * len(filled)


def _back_matter(pages: Sequence[Sequence[str]], skip: list[set[int]]) -> list[set[int]]:
    """Lines of back matter: from its heading on, over the pages that go on
    looking like it. The first page is never back matter (a title page)."""
    excluded: list[set[int]] = [set() for _ in pages]
    kind: str | None = None
    for page_index in range(1, len(pages)):
        lines = pages[page_index]
        if kind is not None:
            kept_lines = [line for index, line in enumerate(lines) if index not in skip[page_index]]
            if _looks_like(kind, kept_lines, min_entries=1):
                excluded[page_index].update(range(len(lines)))
                continue
            kind = None
        kept = [
            index for index in range(len(lines)) if index not in skip[page_index] and lines[index].strip()
        ]
        for position, line_index in enumerate(kept):
            found = _heading_kind(lines[line_index])
            if found is None or (found != _REFERENCES and position >= HEADING_LINES):
                continue
            following = [lines[index] for index in kept[position + 1 :]]
            next_page = pages[page_index + 1] if page_index + 1 < len(pages) else []
            if _looks_like(found, following) or (
                len(following) < MIN_ENTRIES and _looks_like(found, next_page)
            ):
                kind = found
                excluded[page_index].update(range(line_index, len(lines)))
                break
    return excluded


def excluded_lines(pages: Sequence[Sequence[str]]) -> list[set[int]]:
    """For each page (a list of its lines), the indexes of the lines that are
    running headers or footers or back matter."""
    running = _running_lines(pages)
    back = _back_matter(pages, running)
    total = sum(len(line) for lines in pages for line in lines)
    back_chars = sum(len(pages[page][line]) for page, lines in enumerate(back) for line in lines)
    if total and (total - back_chars) < MIN_KEPT_SHARE * total:
        back = [set() for _ in pages]
    return [running_lines | back_lines for running_lines, back_lines in zip(running, back, strict=True)]
