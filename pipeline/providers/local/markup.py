"""Inline markup (Markdown, reStructuredText, HTML) to display text and plain text.

Display text keeps inline code as Markdown code spans (```x```) and nothing
else: links become their words, emphasis loses its markers, tags and images
go. Plain text is display text without the backticks: what a student reads,
and what quotes are taken from.

Every substitution is linear: the patterns have bounded repetitions or stop at
the first character that cannot belong to them (emphasis markers are removed
one by one instead of being matched in pairs, which would backtrack).
"""

from __future__ import annotations

import html
import re

_IMAGE_RE = re.compile(r"!\[[^\[\]\n]{0,500}\](?:\([^()\n]{0,2000}\)|\[[^\[\]\n]{0,200}\])")
_LINK_RE = re.compile(r"\[([^\[\]\n]{1,500})\](?:\([^()\n]{0,2000}\)|\[[^\[\]\n]{0,200}\])")
_RST_LINK_RE = re.compile(r"`([^`<\n]{1,300}?) ?<[^<>`\n]{1,2000}>`_{1,2}")
_RST_ROLE_RE = re.compile(r":[\w.+-]{1,40}:`([^`\n]{1,300})`")
_RST_LITERAL_RE = re.compile(r"``([^`\n]{1,300})``")
_RST_REFERENCE_RE = re.compile(r"`([^`\n]{1,300})`_{1,2}(?!\w)")
_RST_SUBSTITUTION_RE = re.compile(r"\|[\w -]{1,60}\|_{0,2}")
_AUTOLINK_RE = re.compile(r"<(?:https?|mailto|ftp):[^<>\s]{0,2000}>")
_URL_RE = re.compile(r"\bhttps?://[^\s<>()\[\]]{1,2000}")
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,20}(?:\s[^<>\n]{0,500})?/?>")
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
# Emphasis markers: a run of * or _ that touches a word on one side only.
# snake_case and "5 * 3" keep theirs.
_STAR_RE = re.compile(r"(?<![\w*])\*{1,3}(?=[^\s*])|(?<=[^\s*])\*{1,3}(?![\w*])")
_UNDERSCORE_RE = re.compile(r"(?<![\w_])_{1,3}(?=[^\s_])|(?<=[^\s_])_{1,3}(?![\w_])")
_STRIKE_RE = re.compile(r"~~")
_CODE_SPAN_RE = re.compile(r"`([^`\n]{1,300})`")
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,150})\*\*")
_WHITESPACE_RE = re.compile(r"\s+")


def squash(text: str) -> str:
    return " ".join(text.split())


def remove_html_comments(text: str) -> str:
    """``<!-- ... -->`` removed with two finds per comment: linear, where a lazy
    pattern would rescan the rest of the text for every unclosed opening."""
    if "<!--" not in text:
        return text
    parts: list[str] = []
    position = 0
    while True:
        start = text.find("<!--", position)
        if start < 0:
            parts.append(text[position:])
            break
        end = text.find("-->", start + 4)
        parts.append(text[position:start])
        if end < 0:
            break  # an unclosed comment hides the rest, as in HTML
        parts.append(" ")
        position = end + 3
    return "".join(parts)


def inline_to_display(text: str) -> str:
    """One paragraph's inline markup to display text (code spans kept)."""
    text = remove_html_comments(text)
    text = _IMAGE_RE.sub(" ", text)
    text = _RST_LINK_RE.sub(r"\1", text)
    text = _RST_ROLE_RE.sub(r"`\1`", text)
    text = _RST_LITERAL_RE.sub(r"`\1`", text)
    text = _RST_REFERENCE_RE.sub(r"\1", text)
    text = _RST_SUBSTITUTION_RE.sub(" ", text)
    text = _LINK_RE.sub(r"\1", text)
    text = _AUTOLINK_RE.sub(" ", text)
    text = _URL_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    # Code spans are set aside so that their * and _ survive.
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(match.group(1).strip())
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE_SPAN_RE.sub(keep, text.replace("\x00", ""))
    text = _ESCAPE_RE.sub(r"\1", text)
    text = _STAR_RE.sub("", text)
    text = _UNDERSCORE_RE.sub("", text)
    text = _STRIKE_RE.sub("", text)
    text = html.unescape(text)
    text = re.sub(r"\x00(\d{1,6})\x00", lambda match: f"`{spans[int(match.group(1))]}`", text)
    return squash(text)


def display_to_plain(text: str) -> str:
    """Display text without the code spans' backticks."""
    return _CODE_SPAN_RE.sub(r"\1", text)


def inline_to_plain(text: str) -> str:
    return display_to_plain(inline_to_display(text))


def bold_spans(text: str) -> list[str]:
    """The words set in bold (``**term**``) in Markdown."""
    return [squash(match.group(1)) for match in _BOLD_RE.finditer(text)]


def code_span_ranges(display: str) -> list[tuple[int, int]]:
    """Where the code spans of a display text are (start, end)."""
    return [(match.start(), match.end()) for match in _CODE_SPAN_RE.finditer(display)]


def escape_block_start(text: str) -> str:
    """Text that must stay a paragraph when written as a Markdown block: a
    leading "#", ">", list marker or "=" would make it something else."""
    numbered = re.match(r"\d{1,9}(?=[.)] )", text)
    if numbered:
        return text[: numbered.end()] + "\\" + text[numbered.end() :]
    if re.match(r"(?:#|>|[-*+] |=|-{3}|\|)", text):
        return "\\" + text
    return text
