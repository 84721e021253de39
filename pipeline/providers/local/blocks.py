"""A text (Markdown, reStructuredText, captions, PDF text) to a list of blocks.

One pass over the lines, each line looked at a bounded number of times, so
the parse is linear in the text. It knows:

- fenced code (``` and ~~~), indented code, reStructuredText literal blocks
  ("::") and code directives, and code that has lost its indentation (PDF
  text) by its shape: keywords, operators, brackets, semicolons. A ``#``
  comment next to code is code, never a heading;
- ATX and setext headings, reStructuredText titles (over- and underlined),
  numbered or capitalised plain-text headings in documents without markup,
  slides ("Slide 3") and page or slide breaks;
- lists, tables, block quotes and paragraphs (wrapped lines joined).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .markup import inline_to_display, squash

HEADING, PARAGRAPH, LIST, CODE, TABLE, QUOTE, BREAK, TITLE = (
    "heading",
    "paragraph",
    "list",
    "code",
    "table",
    "quote",
    "break",
    "title",
)


@dataclass
class Block:
    kind: str
    # heading/title: the heading's display text; paragraph/quote: display text
    # on one line; code: the code as written; table: its lines.
    text: str = ""
    level: int = 0
    items: list[str] = field(default_factory=list)  # list items (display text)
    ordered: bool = False
    code_language: str = ""


_FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]{0,30})")
_ATX_RE = re.compile(r"^[ \t]{0,3}(#{1,6})(?:[ \t]+|$)")
_ADORNMENT_RE = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}[ \t]*$")
_RULE_RE = re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]{0,2}\1){2,}[ \t]*$")
_LIST_RE = re.compile(r"^([ \t]{0,8})([-*+\u2022\u25aa\u25cf\u2013]|\d{1,3}[.)]|[a-z][.)])[ \t]+(?=\S)")
_TABLE_RE = re.compile(r"^[ \t]{0,3}\|")
_TABLE_SEPARATOR_RE = re.compile(r"^[ \t|:-]{3,}$")
_QUOTE_RE = re.compile(r"^[ \t]{0,3}>")
# Every level of a nested quote at once: the quote is parsed once, however deep.
_QUOTE_MARKERS_RE = re.compile(r"^(?:[ \t]{0,3}>)+[ \t]?")
_DIRECTIVE_RE = re.compile(r"^\.\.[ \t]+([\w:-]{1,40})::[ \t]*(.{0,200})$")
_RST_COMMENT_RE = re.compile(r"^\.\.(?:[ \t]|$)")
_SLIDE_RE = re.compile(
    r"^[ \t]{0,3}(?:slide|diapositiva|diapositive|folie|l[aá]mina|dia|slajd)[ \t]{1,4}\d{1,3}\b"
    r"[ \t:.\-\u2013]{0,6}(.{0,150})$",
    re.IGNORECASE,
)
_NUMBERED_HEADING_RE = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}[.)]?|[IVXLC]{1,5}[.)]|"
    r"(?:chapter|part|section|unit|lecture|module|lesson|cap[ií]tulo|tema|lecci[oó]n|parte|chapitre|"
    r"partie|le[cç]on|kapitel|teil|abschnitt|lektion|capitolo|lezione|aula)[ \t]{1,4}[\w.]{1,8})"
    r"(?:[ \t:.\-\u2013]|$)",
    re.IGNORECASE,
)
_CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "literalinclude", "highlight", "doctest"})
_PROSE_DIRECTIVES = frozenset(
    {"note", "tip", "warning", "important", "hint", "caution", "attention", "danger", "error", "admonition",
     "topic", "sidebar", "seealso", "epigraph", "highlights", "pull-quote", "rubric", "versionadded",
     "versionchanged", "deprecated", "definition"}
)  # fmt: skip

# --- the shape of code -------------------------------------------------------------------

_CODE_KEYWORD_STARTS = (
    "def ", "class ", "import ", "from ", "return", "elif ", "else:", "else {", "try:", "except",
    "finally:", "raise ", "yield ", "lambda ", "async def ", "await ", "print(", "#include", "#define",
    "#!", "public ", "private ", "protected ", "static ", "const ", "let ", "var ", "function ",
    "function(", "console.", "System.", "package ", "using ", "fn ", "func ", "val ", "SELECT ",
    "INSERT ", "UPDATE ", "CREATE ", "nonlocal ", "global ", "assert ", "del ", "pass", "break",
    "continue", "switch ", "case ", "do {", "echo ", "printf(", "cout ", "std::", "int ", "void ",
    "char ", "float ", "double ", "bool ", "$ ", ">>> ", "... ",
)  # fmt: skip
_BLOCK_OPENERS = ("if ", "for ", "while ", "with ", "elif ", "switch ", "match ", "foreach ")
_CODE_ENDINGS = (";", "{", "}", "):", ") {", "=>", "[", "(", "};", "],", "},", "\\")
_OPERATORS = ("==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "->", "=>", "&&", "||", "::", "**", "//", "<<")
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][\w.\[\]\"']{0,60}[ \t]{0,4}(?:[+\-*/%|&]?=)[ \t]{0,4}[^\s=]")
_CALL_RE = re.compile(r"[A-Za-z_][\w.]{0,60}\([^()]{0,200}\)")
_CODE_SYMBOLS = frozenset("(){}[];=<>_")
_COMMENT_PREFIXES = ("#", "//", "/*", "*/", "-- ", "% ")


def code_score(line: str) -> float:
    """How much a line looks like code (2 or more: it is)."""
    stripped = line.strip()
    if not stripped:
        return 0.0
    score = 0.0
    if stripped.startswith(_CODE_KEYWORD_STARTS):
        first = stripped.split(" ", 1)[0]
        # "Return to the ..." or "From then on ..." are prose: code keywords are lower case.
        if not (first[:1].isupper() and first[1:2].islower() and first not in ("SELECT", "INSERT")):
            score += 2
    elif stripped.startswith(_BLOCK_OPENERS) and stripped.endswith((":", "{", ")")):
        score += 2
    if stripped.endswith(_CODE_ENDINGS) or stripped in ("}", "{", "end", "fi", "done", "esac"):
        score += 1.5
    if _ASSIGNMENT_RE.match(stripped):
        score += 1.5
    if _CALL_RE.search(stripped):
        score += 1
    if any(operator in stripped for operator in _OPERATORS) and not stripped.endswith("::"):
        score += 1
    symbols = sum(1 for char in stripped if char in _CODE_SYMBOLS)
    if symbols / len(stripped) >= 0.08:
        score += 1
    words = stripped.split()
    if stripped.endswith((".", "?", "!", '."', ".)")) and len(words) >= 5:
        score -= 2.5  # a sentence
    elif len(words) >= 9 and sum(word.isalpha() for word in words) >= 0.7 * len(words):
        score -= 1.5  # a run of plain words
    return score


def _is_comment(line: str) -> bool:
    return line.strip().startswith(_COMMENT_PREFIXES)


# --- plain-text headings ------------------------------------------------------------------

_SMALL_TITLE_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "nor",
        "of",
        "on",
        "or",
        "per",
        "the",
        "to",
        "vs",
        "via",
        "with",
        "de",
        "del",
        "la",
        "las",
        "el",
        "los",
        "y",
        "e",
        "en",
        "con",
        "por",
        "para",
        "un",
        "una",
        "et",
        "le",
        "les",
        "des",
        "du",
        "au",
        "aux",
        "à",
        "der",
        "die",
        "das",
        "und",
        "im",
        "von",
        "zu",
        "mit",
        "für",
        "il",
        "di",
        "della",
        "e",
        "do",
        "da",
        "dos",
        "das",
        "em",
    ]
)


def looks_like_heading(line: str, previous: str | None, following: str | None, blank_after: bool) -> bool:
    """A plain-text line that reads as a heading: short, no final punctuation,
    after a sentence's end, before a capitalised line; numbered, in capitals,
    title-cased or standing alone between blank lines."""
    text = line.strip()
    words = text.split()
    if not words or len(words) > 12 or len(text) > 90 or following is None:
        return False
    if text[-1] in ".,;!?" or not any(char.isalpha() for char in text):
        return False
    numbered = _NUMBERED_HEADING_RE.match(text) is not None
    if _LIST_RE.match(text) and not numbered:
        return False
    if (
        previous is not None
        and previous.strip()
        and not previous.rstrip().endswith((".", "!", "?", ":", '"', "\u201d", ")", "\u00bb"))
    ):
        return False
    nxt = following.lstrip()
    if not nxt or not (
        nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"'(\u201c\u00ab\u00bf\u00a1-*\u2022"
    ):
        return False
    if numbered and _LIST_RE.match(text) and _LIST_RE.match(nxt):
        return False  # the first item of a numbered list
    if code_score(text) >= 2:
        return False
    letters = [char for char in text if char.isalpha()]
    all_caps = len(letters) >= 3 and all(char.isupper() for char in letters)
    if not (text[0].isupper() or numbered):
        return False
    content = [word for word in words if word.casefold() not in _SMALL_TITLE_WORDS]
    capitalised = sum(1 for word in content if word[:1].isupper() or word[:1].isdigit())
    title_case = bool(content) and capitalised / len(content) >= 0.6 and len(words) <= 10
    standalone = blank_after and (previous is None or not previous.strip()) and len(words) <= 10
    return numbered or all_caps or title_case or standalone


# --- the parser ----------------------------------------------------------------------------


def _has_markup_headings(lines: list[str]) -> bool:
    for index, line in enumerate(lines):
        if _ATX_RE.match(line) and line.strip("# \t"):
            return True
        if (
            index
            and _ADORNMENT_RE.match(line.strip())
            and lines[index - 1].strip()
            and not _LIST_RE.match(lines[index - 1])
            and code_score(lines[index - 1]) < 2
        ):
            return True
    return False


class _Parser:
    def __init__(self, text: str, *, plain_headings: bool | None = None) -> None:
        self.lines = text.split("\n")
        count = len(self.lines)
        # The next non-blank line after each line, computed once (a search per
        # line would be quadratic on a text of blank lines).
        self.next_text: list[int] = [count] * (count + 1)
        following = count
        for index in range(count - 1, -1, -1):
            self.next_text[index] = following
            if self.lines[index].strip():
                following = index
        self.first_text = following
        self.plain_headings = (
            not _has_markup_headings(self.lines) if plain_headings is None else plain_headings
        )
        self.blocks: list[Block] = []
        self.paragraph: list[str] = []
        self.adornments: dict[tuple[str, bool], int] = {}

    # -- helpers ---------------------------------------------------------------------

    def line(self, index: int) -> str:
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def following(self, index: int) -> str | None:
        nxt = self.next_text[index] if index < len(self.lines) else len(self.lines)
        return self.lines[nxt] if nxt < len(self.lines) else None

    def flush(self) -> None:
        if self.paragraph:
            text = inline_to_display(" ".join(self.paragraph))
            if text:
                self.blocks.append(Block(PARAGRAPH, text))
            self.paragraph = []

    def add_heading(self, text: str, level: int) -> None:
        self.flush()
        display = inline_to_display(text)
        if display and any(char.isalnum() for char in display):
            self.blocks.append(Block(HEADING, display, level=level))

    def adornment_level(self, char: str, overline: bool) -> int:
        key = (char, overline)
        if key not in self.adornments:
            self.adornments[key] = len(self.adornments) + 1
        return self.adornments[key]

    # -- the blocks ------------------------------------------------------------------

    def fenced(self, index: int, fence: str, language: str) -> int:
        self.flush()
        code: list[str] = []
        index += 1
        while index < len(self.lines):
            closing = _FENCE_RE.match(self.lines[index])
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                index += 1
                break
            code.append(self.lines[index])
            index += 1
        self.add_code(code, language)
        return index

    def add_code(self, code: list[str], language: str = "") -> None:
        while code and not code[-1].strip():
            code.pop()
        while code and not code[0].strip():
            code.pop(0)
        if code:
            indent = min(len(line) - len(line.lstrip()) for line in code if line.strip())
            self.blocks.append(Block(CODE, "\n".join(line[indent:] for line in code), code_language=language))

    def indented(self, index: int) -> tuple[list[str], int]:
        """The indented block from ``index`` (blank lines inside it included)."""
        block: list[str] = []
        while index < len(self.lines):
            line = self.lines[index]
            if line.strip() and not line.startswith((" ", "\t")):
                break
            if not line.strip():
                nxt = self.next_text[index]
                if nxt >= len(self.lines) or not self.lines[nxt].startswith((" ", "\t")):
                    break
            block.append(line)
            index += 1
        return block, index

    def directive(self, index: int, name: str, argument: str) -> int:
        self.flush()
        body, end = self.indented(index + 1)
        name = name.casefold()
        if name in _CODE_DIRECTIVES:
            self.add_code(body, argument.strip().split(" ", 1)[0] if argument else "")
        elif name in _PROSE_DIRECTIVES:
            text = " ".join(line.strip() for line in [argument, *body] if line.strip())
            display = inline_to_display(text)
            if display:
                self.blocks.append(Block(QUOTE, display))
        return end

    def code_run(self, index: int) -> int:
        """Lines from ``index`` that read as code (with their comments and the
        blank lines between them); returns where the run ends."""
        self.flush()
        run: list[str] = []
        while index < len(self.lines):
            line = self.lines[index]
            if not line.strip():
                nxt = self.next_text[index]
                if nxt < len(self.lines) and self._continues_code(self.lines[nxt], run):
                    run.append(line)
                    index += 1
                    continue
                break
            if not self._continues_code(line, run):
                break
            run.append(line)
            index += 1
        self.add_code(run)
        return index

    @staticmethod
    def _continues_code(line: str, run: list[str]) -> bool:
        if _is_comment(line) or code_score(line) >= 1.5:
            return True
        # An indented line inside code (a function's body) stays with it.
        return bool(run) and line.startswith((" ", "\t")) and code_score(line) > -1

    def starts_code(self, index: int) -> bool:
        line = self.lines[index]
        score = code_score(line)
        nxt = self.next_text[index]
        next_line = self.lines[nxt] if nxt < len(self.lines) and nxt == index + 1 else ""
        if _is_comment(line):
            return (
                bool(next_line)
                and (code_score(next_line) >= 2 or _is_comment(next_line))
                and (code_score(next_line) >= 2 or self._run_has_code(index))
            )
        if score >= 3.5:
            return True
        return score >= 2 and bool(next_line) and (code_score(next_line) >= 1.5 or _is_comment(next_line))

    def _run_has_code(self, index: int) -> bool:
        """Within the next few lines without a blank, one is code."""
        for offset in range(1, 6):
            line = self.line(index + offset)
            if not line.strip():
                return False
            if code_score(line) >= 2:
                return True
            if not _is_comment(line):
                return False
        return False

    def list_block(self, index: int) -> int:
        self.flush()
        items: list[str] = []
        ordered = False
        current: list[str] = []
        while index < len(self.lines):
            line = self.lines[index]
            item = _LIST_RE.match(line)
            if item:
                if current:
                    items.append(" ".join(current))
                ordered = ordered or item.group(2)[0].isdigit()
                current = [line[item.end() :].strip()]
            elif line.strip() and (line.startswith((" ", "\t")) or not self._block_start(index)) and current:
                current.append(line.strip())
            elif not line.strip():
                nxt = self.next_text[index]
                if nxt < len(self.lines) and (
                    _LIST_RE.match(self.lines[nxt]) or self.lines[nxt].startswith(("  ", "\t"))
                ):
                    index += 1
                    continue
                break
            else:
                break
            index += 1
        if current:
            items.append(" ".join(current))
        displays = [inline_to_display(item) for item in items]
        displays = [item for item in displays if item]
        if displays:
            self.blocks.append(Block(LIST, "\n".join(displays), items=displays, ordered=ordered))
        return index

    def _block_start(self, index: int) -> bool:
        line = self.lines[index]
        return bool(
            _FENCE_RE.match(line)
            or _ATX_RE.match(line)
            or _TABLE_RE.match(line)
            or _QUOTE_RE.match(line)
            or _RULE_RE.match(line)
            or _DIRECTIVE_RE.match(line)
        )

    def table(self, index: int) -> int:
        self.flush()
        rows: list[str] = []
        while index < len(self.lines) and _TABLE_RE.match(self.lines[index]):
            rows.append(self.lines[index].strip())
            index += 1
        self.blocks.append(Block(TABLE, "\n".join(rows)))
        return index

    def quote(self, index: int) -> int:
        self.flush()
        lines: list[str] = []
        while index < len(self.lines) and _QUOTE_RE.match(self.lines[index]):
            lines.append(_QUOTE_MARKERS_RE.sub("", self.lines[index], count=1))
            index += 1
        inner = parse_blocks("\n".join(lines), plain_headings=False)
        for block in inner:
            if block.kind in (PARAGRAPH, QUOTE):
                self.blocks.append(Block(QUOTE, block.text))
            elif block.kind != HEADING:
                self.blocks.append(block)
        return index

    # -- the loop ----------------------------------------------------------------------

    def parse(self) -> list[Block]:
        lines = self.lines
        index = self._front_matter_end()
        plain_title_done = not self.plain_headings
        while index < len(lines):
            line = lines[index]
            stripped = line.strip()
            if not stripped:
                self.flush()
                index += 1
                continue
            if stripped == "\f" or line.startswith("\f"):
                self.flush()
                self.blocks.append(Block(BREAK))
                index += 1
                continue
            fence = _FENCE_RE.match(line)
            if fence:
                index = self.fenced(index, fence.group(1), fence.group(2))
                continue
            directive = _DIRECTIVE_RE.match(line)
            if directive:
                index = self.directive(index, directive.group(1), directive.group(2))
                continue
            if _RST_COMMENT_RE.match(line):
                self.flush()
                _body, index = self.indented(index + 1)
                continue
            if line.startswith(("    ", "\t")) and not self.paragraph:
                index = self.indented_block(index)
                continue
            if _ATX_RE.match(line):
                if self._is_code_comment(index):
                    index = self.code_run(index)
                    continue
                match = _ATX_RE.match(line)
                text = line[match.end() :].rstrip().rstrip("#").rstrip()
                if text:
                    self.add_heading(text, len(match.group(1)))
                else:
                    self.flush()
                index += 1
                continue
            adorned = self.adorned_heading(index)
            if adorned:
                index = adorned
                continue
            slide = _SLIDE_RE.match(line)
            if slide:
                self.flush()
                title = slide.group(1).strip()
                if title:
                    self.add_heading(title, 2)
                else:
                    self.blocks.append(Block(BREAK))
                index += 1
                continue
            if _RULE_RE.match(line):
                self.flush()
                self.blocks.append(Block(BREAK))
                index += 1
                continue
            if _TABLE_RE.match(line):
                index = self.table(index)
                continue
            if _QUOTE_RE.match(line):
                index = self.quote(index)
                continue
            if self.starts_code(index):
                index = self.code_run(index)
                continue
            if not plain_title_done and not self.paragraph and index == self.first_text:
                plain_title_done = True
                if self._plain_title(index):
                    self.flush()
                    self.blocks.append(Block(TITLE, inline_to_display(stripped.rstrip(":")), level=1))
                    index += 1
                    continue
            if self.plain_headings and not self.paragraph and self._plain_heading(index):
                self.add_heading(stripped.rstrip(":"), 2)
                index += 1
                continue
            bullet = _LIST_RE.match(line)
            if bullet and (not self.paragraph or not bullet.group(2)[0].isalnum()):
                index = self.list_block(index)
                continue
            self.paragraph.append(stripped)
            index += 1
        self.flush()
        return self.blocks

    def _front_matter_end(self) -> int:
        """Skip YAML front matter (between two "---" lines at the very start)."""
        if self.lines and self.lines[0].strip() == "---":
            for index in range(1, min(len(self.lines), 60)):
                if self.lines[index].strip() in ("---", "..."):
                    return index + 1
        return 0

    def indented_block(self, index: int) -> int:
        self.flush()
        body, end = self.indented(index)
        previous = self.blocks[-1] if self.blocks else None
        literal = previous is not None and previous.kind == PARAGRAPH and previous.text.endswith("::")
        if literal:
            previous.text = previous.text[:-2].rstrip() + ":" if previous.text[:-2].strip() else ""
            if not previous.text:
                self.blocks.pop()
        if previous is not None and previous.kind == LIST and not literal:
            previous.items[-1] = squash(previous.items[-1] + " " + " ".join(body))
            previous.text = "\n".join(previous.items)
            return end
        code_like = sum(1 for line in body if code_score(line) >= 1.5 or _is_comment(line))
        if literal or code_like:
            self.add_code(body)
        else:
            self.paragraph = [line.strip() for line in body if line.strip()]
            self.flush()
            if self.blocks and self.blocks[-1].kind == PARAGRAPH:
                self.blocks[-1].kind = QUOTE
        return end

    def _is_code_comment(self, index: int) -> bool:
        """A "# ..." line next to code is a comment of that code."""
        before = self.line(index - 1)
        if before.strip() and (code_score(before) >= 2 or (_is_comment(before) and index - 1 != 0)):
            return True
        after = self.line(index + 1)
        return bool(after.strip()) and (code_score(after) >= 2 or self._run_has_code(index))

    def adorned_heading(self, index: int) -> int | None:
        """A setext or reStructuredText heading starting at ``index``; returns
        the index after it."""
        line = self.lines[index]
        if self.paragraph:
            return None
        overline = _ADORNMENT_RE.match(line.strip()) if line.strip() else None
        if overline and index + 2 < len(self.lines):
            title, under = self.lines[index + 1], self.lines[index + 2].strip()
            if title.strip() and under == line.strip() and len(under) >= len(title.strip()) - 1:
                self.add_heading(title.strip(), self.adornment_level(under[0], True))
                return index + 3
        if index + 1 < len(self.lines):
            under = self.lines[index + 1].strip()
            match = _ADORNMENT_RE.match(under)
            if (
                match
                and not overline
                and len(line.strip()) <= 150
                and (self._is_markdown_underline(under) or len(under) >= min(len(line.strip()), 3))
                and not _LIST_RE.match(line)
                and code_score(line) < 2
            ):
                self.add_heading(line.strip(), self.adornment_level(under[0], False))
                return index + 2
        return None

    @staticmethod
    def _is_markdown_underline(under: str) -> bool:
        return under[0] in "=-"

    def _plain_title(self, index: int) -> bool:
        """A short first line followed by more text reads as a title."""
        line = self.lines[index].strip()
        words = line.split()
        return (
            self.following(index) is not None
            and 1 <= len(words) <= 12
            and len(line) <= 120
            and line[-1] not in ".,;!?"
            and not _LIST_RE.match(line)
            and any(char.isalpha() for char in line)
            and code_score(line) < 2
        )

    def _plain_heading(self, index: int) -> bool:
        blank_after = index + 1 < len(self.lines) and not self.lines[index + 1].strip()
        previous = self.lines[index - 1] if index > 0 else None
        return looks_like_heading(self.lines[index], previous, self.following(index), blank_after)


def parse_blocks(text: str, *, plain_headings: bool | None = None) -> list[Block]:
    """The blocks of a text. ``plain_headings`` (default: when the text has no
    Markdown or reStructuredText headings) also reads capitalised or numbered
    lines as headings and a short first line as the title."""
    return _Parser(text, plain_headings=plain_headings).parse()
