"""Long texts for the AI: cutting a text into chunks, sampling it, and
merging the lesson structures of consecutive chunks into one.

PROCESS_SOURCE_TEXT fans out over the chunks of a text longer than the
primary AI provider takes at once (``AIProvider.max_input_chars``); the join
step merges their answers here. Quiz and flashcards are written from one
sample of a long note: its beginning, then evenly spaced excerpts.
"""

from __future__ import annotations

import itertools
import re

MAX_SECTIONS = 40  # the schema's bound
# Visual opportunities kept from all chunks together (the pipeline then keeps
# the first MAX_VISUALS_PER_SOURCE placeholders).
MAX_VISUALS = 40
SAMPLE_EXCERPTS = 6

_PLACEHOLDER = re.compile(r"\[VISUAL::([^\]\n]{0,500})\]")


def split_chunks(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``size`` characters at paragraph,
    then line, then sentence, then word boundaries (hard cut as a last resort)."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > size:
        window = rest[:size]
        cut = -1
        for separator in ("\n\n", "\n", ". ", "? ", "! ", " "):
            position = window.rfind(separator)
            if position >= size // 2:
                cut = position + len(separator)
                break
        if cut <= 0:
            cut = size
        chunks.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        chunks.append(rest)
    return [chunk for chunk in chunks if chunk]


def sample_text(text: str, size: int, excerpts: int = SAMPLE_EXCERPTS) -> str:
    """At most ``size`` characters: the beginning, then evenly spaced excerpts of the rest."""
    text = text.strip()
    if len(text) <= size:
        return text
    separator = "\n\n[...]\n\n"
    head = split_chunks(text, size // 2)[0]
    rest = text[len(head) :]
    budget = size - len(head) - excerpts * len(separator)
    piece = max(1, budget // excerpts)
    step = max(1, (len(rest) - piece) // max(1, excerpts - 1))
    parts = [head]
    for index in range(excerpts):
        start = min(index * step, max(0, len(rest) - piece))
        excerpt = rest[start : start + piece]
        # Start at a word boundary and drop the partial last word.
        if start > 0 and (space := excerpt.find(" ")) != -1 and space < 80:
            excerpt = excerpt[space + 1 :]
        if start + piece < len(rest) and (space := excerpt.rfind(" ")) > len(excerpt) - 80:
            excerpt = excerpt[:space]
        parts.append(excerpt.strip())
    return separator.join(part for part in parts if part)[:size]


def _normal(description: str) -> str:
    return " ".join(description.split()).casefold()


def merge_structures(parts: list[dict]) -> dict:
    """Reduce lesson structures of consecutive chunks to one (see the module doc)."""
    title = next(
        (p.get("title") for p in parts if isinstance(p.get("title"), str) and p["title"].strip()), ""
    )
    sections: list[dict] = []
    for part in parts:
        for section in part.get("structure") or []:
            if isinstance(section, dict):
                sections.append(
                    {"heading": str(section.get("heading", "")), "content": str(section.get("content", ""))}
                )
    while len(sections) > MAX_SECTIONS:
        sizes = [len(a["content"]) + len(b["content"]) for a, b in itertools.pairwise(sections)]
        i = sizes.index(min(sizes))
        a, b = sections[i], sections[i + 1]
        sections[i : i + 2] = [
            {"heading": a["heading"], "content": f"{a['content']}\n\n### {b['heading']}\n\n{b['content']}"}
        ]

    kept: dict[str, dict] = {}
    for part in parts:
        for visual in part.get("visualOpportunities") or []:
            if not isinstance(visual, dict) or not isinstance(visual.get("description"), str):
                continue
            key = _normal(visual["description"])
            if key and key not in kept and len(kept) < MAX_VISUALS:
                kept[key] = {
                    "description": visual["description"],
                    "searchQuery": visual.get("searchQuery", ""),
                }
    # Placeholders in the text that are not listed still count as visuals
    # downstream: fill up to the cap with them, drop the others.
    for section in sections:
        for description in _PLACEHOLDER.findall(section["content"]):
            key = _normal(description)
            if key and key not in kept and len(kept) < MAX_VISUALS:
                kept[key] = {"description": description.strip(), "searchQuery": description.strip()[:100]}

    def keep_or_drop(match: re.Match) -> str:
        return match.group(0) if _normal(match.group(1)) in kept else ""

    for section in sections:
        section["content"] = _PLACEHOLDER.sub(keep_or_drop, section["content"]).strip() or section["heading"]
    return {"title": title, "structure": sections, "visualOpportunities": list(kept.values())}
