"""Clean-up of pasted text (TEXT sources) and of text from the other extractors."""

from __future__ import annotations

import re

# Control characters other than tab and newline (carriage returns are handled
# first), plus DEL, the C1 controls and the Unicode non-characters.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_BLANK_LINES_RE = re.compile(r"\n(?:[ \t]*\n){2,}")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+\n")


def normalize_text(text: str) -> str:
    """Strip NUL and control characters (keeping newlines and tabs), normalise
    newlines to ``\\n``, collapse more than two blank lines and trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\ufeff", "")
    text = _CONTROL_RE.sub("", text)
    text = _TRAILING_SPACE_RE.sub("\n", text)
    text = _BLANK_LINES_RE.sub("\n\n\n", text)
    return text.strip()
