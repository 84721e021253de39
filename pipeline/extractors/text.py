"""Clean-up of pasted text (TEXT sources) and of text from the other extractors.

Everything here sees user text of up to MAX_TEXT_CHARS characters, so it runs
in linear time: single-character classes for regular expressions, and plain
line-by-line loops wherever a pattern would have to scan a run of blanks that
may not end in a newline (``[ \\t]+\\n`` retries that run from every one of
its characters: quadratic on a long line of spaces).
"""

from __future__ import annotations

import re

# Control characters other than tab and newline (carriage returns are handled
# first), plus DEL, the C1 controls and the Unicode non-characters.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
MAX_BLANK_LINES = 2


def normalize_newlines(text: str) -> str:
    """``\\r\\n``, ``\\r`` and the Unicode line and paragraph separators as ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u2028", "\n").replace("\u2029", "\n\n")


def normalize_text(text: str) -> str:
    """Strip NUL and control characters (keeping newlines and tabs), normalise
    newlines to ``\\n``, drop trailing blanks of each line, keep at most two
    blank lines in a row and trim."""
    text = _CONTROL_RE.sub("", normalize_newlines(text).replace("\ufeff", ""))
    lines: list[str] = []
    blank_run = 0
    for line in text.split("\n"):
        line = line.rstrip(" \t")
        if line:
            blank_run = 0
        else:
            blank_run += 1
            if blank_run > MAX_BLANK_LINES:
                continue
        lines.append(line)
    return "\n".join(lines).strip()
