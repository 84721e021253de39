"""Sections of a note and their headings, and the note's title.

Sections follow the source's own structure where it has one (Markdown and
reStructuredText headings, plain-text headings, slides) and its topic shifts
where it has none: a TextTiling-like pass (Hearst 1997) compares the words
of the paragraphs before and after each gap and cuts where they differ most
("depth"), with breaks (rules, slides, pages) preferred. Each section found
that way is named after its most characteristic key term.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from .blocks import BREAK, HEADING, TITLE
from .document import PROSE_KINDS, Document, block_words
from .terms import Term

_WORDS_PER_TOPIC = 380
_MIN_TOPIC_WORDS = 120
_TILING_WINDOW = 2
_PEAK_REACH = 4
_BREAK_BONUS = 0.4
MAX_SECTIONS = 40


@dataclass
class Part:
    heading: str | None
    blocks: list[int] = field(default_factory=list)
    from_source: bool = False  # the heading is the source's own

    def sentence_indexes(self, document: Document) -> list[int]:
        return [index for block in self.blocks for index in document.block_sentences[block]]

    def words(self, document: Document) -> int:
        return sum(block_words(document.blocks[block]) for block in self.blocks)


def find_title(document: Document) -> tuple[str | None, int | None]:
    """The document's own title: a plain first line, a first heading above all
    others (Markdown "# Title", a reStructuredText title)."""
    blocks = document.blocks
    first = next((index for index, block in enumerate(blocks) if block.kind != BREAK), None)
    if first is None:
        return None, None
    block = blocks[first]
    if block.kind == TITLE:
        return block.text, first
    if block.kind != HEADING:
        return None, None
    later = [other.level for other in blocks[first + 1 :] if other.kind == HEADING]
    if not later or block.level < min(later):
        return block.text, first
    return None, None


def split_by_headings(document: Document, skip: int | None, introduction: str) -> list[Part] | None:
    """Parts at the level of the source's headings (None when it has none)."""
    blocks = document.blocks
    levels = [block.level for index, block in enumerate(blocks) if block.kind == HEADING and index != skip]
    if not levels:
        return None
    counts = Counter(levels)
    section_level = min(levels)
    for level in sorted(counts):
        if sum(count for other, count in counts.items() if other <= level) >= 2:
            section_level = level
            break
    parts: list[Part] = [Part(introduction or None, from_source=bool(introduction))]
    for index, block in enumerate(blocks):
        if index == skip or block.kind in (TITLE, BREAK):
            continue
        if block.kind == HEADING and block.level <= section_level:
            parts.append(Part(block.text, from_source=True))
            continue
        parts[-1].blocks.append(index)
    return [part for part in parts if any(blocks[i].kind != HEADING for i in part.blocks)]


def _unit_vectors(document: Document, units: list[list[int]]) -> list[Counter[str]]:
    vectors = []
    for unit in units:
        vector: Counter[str] = Counter()
        for block in unit:
            for index in document.block_sentences[block]:
                vector.update(document.sentences[index].stems)
        vectors.append(vector)
    return vectors


def _cosine(first: Counter[str], second: Counter[str]) -> float:
    if not first or not second:
        return 0.0
    if len(first) > len(second):
        first, second = second, first
    dot = sum(count * second.get(word, 0) for word, count in first.items())
    norm = math.sqrt(sum(c * c for c in first.values())) * math.sqrt(sum(c * c for c in second.values()))
    return dot / norm if norm else 0.0


def split_by_topics(document: Document, block_indexes: list[int], heading: str | None = None) -> list[Part]:
    """Parts at the topic shifts of a run of blocks without headings."""
    blocks = document.blocks
    # Units: a prose block with whatever follows it up to the next prose block.
    units: list[list[int]] = []
    breaks_before: list[bool] = []
    pending_break = False
    for index in block_indexes:
        block = blocks[index]
        if block.kind == BREAK:
            pending_break = True
            continue
        if block.kind in PROSE_KINDS or not units:
            units.append([index])
            breaks_before.append(pending_break)
            pending_break = False
        else:
            units[-1].append(index)
    words = [sum(block_words(blocks[index]) for index in unit) for unit in units]
    total = sum(words)
    wanted = min(MAX_SECTIONS, max(1, round(total / _WORDS_PER_TOPIC)))
    if wanted == 1 or len(units) < 2:
        return [Part(heading, [index for unit in units for index in unit])]
    vectors = _unit_vectors(document, units)
    gaps: list[float] = []
    for gap in range(1, len(units)):
        left: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for vector in vectors[max(0, gap - _TILING_WINDOW) : gap]:
            left.update(vector)
        for vector in vectors[gap : gap + _TILING_WINDOW]:
            right.update(vector)
        gaps.append(_cosine(left, right))
    depths: list[float] = []
    for position, similarity in enumerate(gaps):
        left_peak = max(gaps[max(0, position - _PEAK_REACH) : position + 1])
        right_peak = max(gaps[position : position + _PEAK_REACH + 1])
        depth = (left_peak - similarity) + (right_peak - similarity)
        if breaks_before[position + 1]:
            depth += _BREAK_BONUS
        depths.append(depth)
    # Words before each gap, to keep every part long enough.
    before = [0]
    for count in words:
        before.append(before[-1] + count)
    minimum = max(_MIN_TOPIC_WORDS, total // (wanted * 2))
    cuts: list[int] = []  # unit indexes where a part starts
    for position in sorted(range(len(depths)), key=lambda item: (-depths[item], item)):
        if len(cuts) >= wanted - 1:
            break
        cut = position + 1
        bounds = [0, *sorted(cuts), len(units)]
        previous = max(bound for bound in bounds if bound < cut)
        following = min(bound for bound in bounds if bound > cut)
        if before[cut] - before[previous] < minimum or before[following] - before[cut] < minimum:
            continue
        cuts.append(cut)
    parts: list[Part] = []
    starts = [0, *sorted(cuts)]
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(units)
        parts.append(Part(heading if number == 0 else None, [i for unit in units[start:end] for i in unit]))
    return parts


def smart_title(text: str, code: str) -> str:
    """Title case for English headings (acronyms and names kept); the first
    letter capitalised in other languages."""
    if code != "en":
        return text[:1].upper() + text[1:]
    small = {
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
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
    }
    titled = []
    for index, word in enumerate(text.split()):
        if any(char.isupper() for char in word) or (index > 0 and word in small):
            titled.append(word)
        else:
            titled.append(word[:1].upper() + word[1:])
    return " ".join(titled)


def name_parts(parts: list[Part], document: Document, terms: list[Term], title: str) -> None:
    """A heading for every part without one: the key term most particular to
    it (frequent in it, rare in the others), never one already used."""
    code = document.language.code
    used = {title.casefold()} | {part.heading.casefold() for part in parts if part.heading}
    ranked = terms[:200]
    for number, part in enumerate(parts):
        if part.heading:
            continue
        inside = set(part.sentence_indexes(document))
        best: tuple[float, str] | None = None
        for term in ranked:
            here = sum(1 for index in term.sentences if index in inside)
            if not here:
                continue
            share = here / len(term.sentences)
            candidate = smart_title(term.form, code)
            if candidate.casefold() in used:
                continue
            value = term.score * share * share * (1.2 if term.words > 1 else 1.0)
            if best is None or value > best[0]:
                best = (value, candidate)
        heading = best[1] if best else None
        if heading is None:
            plain = next((document.sentences[i].plain for i in part.sentence_indexes(document)), "")
            heading = " ".join(plain.split()[:6]) or f"{number + 1}"
        used.add(heading.casefold())
        part.heading = heading
