"""The lesson_structure call: a source's text to a condensed note.

clean (caption noise) -> blocks (Markdown, reStructuredText, code, plain
headings) -> language -> sentences and key terms -> title and sections
(the source's headings, else its topic shifts) -> each section condensed to
its central and defining sentences, key terms in bold -> one to three
placeholders -> within the schema's bounds.
"""

from __future__ import annotations

import re

from pipeline.language import detect_language

from ..base import ProviderError
from .blocks import CODE, HEADING, LIST, PARAGRAPH, QUOTE, TABLE, TITLE, Block, parse_blocks
from .cleaning import clean_source
from .document import PROSE_KINDS, Document, Sentence, block_words, build_document
from .markup import code_span_ranges, escape_block_start
from .resources import Language, language_resources
from .sections import (
    MAX_SECTIONS,
    Part,
    find_title,
    name_parts,
    smart_title,
    split_by_headings,
    split_by_topics,
)
from .summary import WHOLE_UP_TO_WORDS, select_sentences, word_budget
from .terms import Term, extract_terms
from .visuals import choose_visuals

NAME = "local"
MAX_SECTION_CHARS = 15_000  # below the schema's 20 000 per section
_MAX_HEADING_CHARS = 200
_MAX_TITLE_CHARS = 200
_PARAGRAPH_WORDS = 120  # a longer paragraph is cut into paragraphs of a few sentences
_BOLD_PER_SECTION = 5
_BOLD_TOP_TERMS = 30
_MAX_TABLE_ROWS = 12
_CODE_SHARE = 0.6  # a code block is kept in a condensed section if it takes at most this share


def _prose_sample(blocks: list[Block]) -> str:
    return "\n".join(block.text for block in blocks if block.kind in (*PROSE_KINDS, HEADING, TITLE))


def _regroup(document: Document) -> Document:
    """Long paragraphs (a transcript, a PDF page) cut into paragraphs of a few
    sentences: readable, and units for finding topic shifts."""
    blocks: list[Block] = []
    sentences: list[Sentence] = []
    block_sentences: list[list[int]] = []
    for number, block in enumerate(document.blocks):
        indexes = document.block_sentences[number]
        words = sum(document.sentences[index].words for index in indexes)
        if block.kind != PARAGRAPH or words <= _PARAGRAPH_WORDS * 1.5:
            groups = [indexes]
        else:
            groups, current, count = [], [], 0
            for index in indexes:
                current.append(index)
                count += document.sentences[index].words
                if count >= _PARAGRAPH_WORDS * 0.8:
                    groups.append(current)
                    current, count = [], 0
            if current:
                if groups and count < _PARAGRAPH_WORDS / 3:
                    groups[-1].extend(current)
                else:
                    groups.append(current)
        for group in groups:
            new_block = (
                block
                if len(groups) == 1
                else Block(PARAGRAPH, " ".join(document.sentences[i].display for i in group))
            )
            blocks.append(new_block)
            mapped = []
            for index in group:
                sentence = document.sentences[index]
                sentence.block = len(blocks) - 1
                sentences.append(sentence)
                mapped.append(len(sentences) - 1)
            block_sentences.append(mapped)
    regrouped = Document(blocks, document.language, sentences, block_sentences)
    return regrouped


def keyword_title(terms: list[Term], language: Language, fallback: str) -> str:
    """A title from the best key terms: "Head: Second and Third"."""
    if not terms:
        return " ".join(fallback.split()[:8])[:80] or "Study notes"
    code = language.code
    head = smart_title(terms[0].form, code)
    rest: list[str] = []
    for term in terms[1:12]:
        if len(rest) >= 2:
            break
        if not any(set(term.key) & set(other.key) for other in [terms[0]]) and not any(
            set(term.key) & set(t.key) for t in terms[1:12] if smart_title(t.form, code) in rest
        ):
            rest.append(term.form)
    joiner = language.quiz_words.and_word
    candidates = []
    if len(rest) == 2:
        candidates.append(
            f"{head}: {rest[0]} {joiner} {rest[1]}"
            if joiner != "\u00b7"
            else f"{head}: {rest[0]} \u00b7 {rest[1]}"
        )
    if rest:
        candidates.append(f"{head}: {rest[0]}")
    candidates.append(head)
    for candidate in candidates:
        if len(candidate) <= 80:
            return candidate
    return head[:80]


def _bold(display: str, terms: list[Term], already: set[int]) -> str:
    """The first occurrence of each term (not yet bold in this section) in bold,
    outside code spans."""
    code = code_span_ranges(display)
    taken: list[tuple[int, int]] = []
    for term in terms:
        if term.rank in already:
            continue
        for match in term.pattern().finditer(display):
            start, end = match.span()
            if any(start < stop and end > begin for begin, stop in code + taken):
                continue
            taken.append((start, end))
            already.add(term.rank)
            break
    if not taken:
        return display
    out, position = [], 0
    for start, end in sorted(taken):
        out.append(display[position:start])
        out.append(f"**{display[start:end]}**")
        position = end
    out.append(display[position:])
    return "".join(out)


def _code_to_keep(parts: list[Part], document: Document, whole: bool, budget: int, total: int) -> set[int]:
    """The code blocks a note keeps: all of a whole note; in a condensed one,
    the first of each section when it fits in a share of the section's budget."""
    kept: set[int] = set()
    for part in parts:
        allowance = budget * part.words(document) / max(total, 1)
        for index in part.blocks:
            block = document.blocks[index]
            if block.kind != CODE:
                continue
            if whole:
                kept.add(index)
            elif block_words(block) <= _CODE_SHARE * allowance:
                kept.add(index)
                break
    return kept


def _render_part(
    part: Part,
    document: Document,
    kept: set[int],
    code_kept: set[int],
    bold_terms: list[Term],
    placeholders: dict[int, list[str]],
) -> list[str]:
    blocks_out: list[str] = []
    pending_heading: str | None = None
    bolded: set[int] = set()
    for block_index in part.blocks:
        block = document.blocks[block_index]
        indexes = document.block_sentences[block_index]
        rendered: str | None = None
        if block.kind == HEADING:
            pending_heading = f"### {block.text}"
            continue
        if block.kind in (PARAGRAPH, QUOTE):
            chosen = [index for index in indexes if index in kept]
            if chosen:
                text = " ".join(_bold(document.sentences[i].display, bold_terms, bolded) for i in chosen)
                rendered = f"> {text}" if block.kind == QUOTE else escape_block_start(text)
        elif block.kind == LIST:
            items: dict[int, list[str]] = {}
            for index in indexes:
                if index in kept:
                    sentence = document.sentences[index]
                    items.setdefault(sentence.item, []).append(_bold(sentence.display, bold_terms, bolded))
            if items:
                lines = []
                for number, item in enumerate(sorted(items), start=1):
                    marker = f"{number}." if block.ordered else "-"
                    lines.append(f"{marker} {' '.join(items[item])}")
                rendered = "\n".join(lines)
        elif block.kind == CODE:
            if block_index in code_kept:
                fence = "~~~~" if "```" in block.text else "```"
                rendered = f"{fence}{block.code_language}\n{block.text}\n{fence}"
        elif block.kind == TABLE:
            if block.text.count("\n") < _MAX_TABLE_ROWS:
                rendered = block.text
        if rendered is None:
            continue
        if pending_heading:
            blocks_out.append(pending_heading)
            pending_heading = None
        blocks_out.append(rendered)
        for description in placeholders.get(block_index, []):
            blocks_out.append(f"[VISUAL::{description}]")
    return blocks_out


def _split_oversized(heading: str, blocks: list[str], document: Document) -> list[tuple[str, list[str]]]:
    """A section longer than the schema allows, cut into sections of at most
    MAX_SECTION_CHARS; later parts are named by their first bold term."""
    parts: list[tuple[str, list[str]]] = [(heading, [])]
    size = 0
    for block in blocks:
        while len(block) > MAX_SECTION_CHARS:  # one huge block (a giant code listing)
            cut = block.rfind("\n", 0, MAX_SECTION_CHARS)
            cut = cut if cut > 0 else block.rfind(" ", 0, MAX_SECTION_CHARS)
            cut = cut if cut > 0 else MAX_SECTION_CHARS
            parts.append((heading, [block[:cut]]))
            block = block[cut:].lstrip("\n")
            size = MAX_SECTION_CHARS
        if size + len(block) + 2 > MAX_SECTION_CHARS and parts[-1][1]:
            parts.append((heading, []))
            size = 0
        parts[-1][1].append(block)
        size += len(block) + 2
    named: list[tuple[str, list[str]]] = []
    used = {heading.casefold()}
    for number, (name, content) in enumerate(parts):
        if not content:
            continue
        if number and named:
            bold = re.search(r"\*\*([^*\n]{1,80})\*\*", "\n".join(content))
            topic = smart_title(bold.group(1), document.language.code) if bold else ""
            candidate = f"{name}: {topic}" if topic else f"{name} \u00b7 {number + 1}"
            if candidate.casefold() in used:
                candidate = f"{name} \u00b7 {number + 1}"
            name = candidate
        used.add(name.casefold())
        named.append((name, content))
    return named


def _within_bounds(sections: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """At most MAX_SECTIONS: the two smallest neighbours merge (the second's
    heading stays as a bold line)."""
    while len(sections) > MAX_SECTIONS:
        sizes = [
            sum(len(block) for block in sections[i][1]) + sum(len(block) for block in sections[i + 1][1])
            for i in range(len(sections) - 1)
        ]
        smallest = min(range(len(sizes)), key=sizes.__getitem__)
        if sizes[smallest] > MAX_SECTION_CHARS:
            return sections[:MAX_SECTIONS]
        left, right = sections[smallest], sections[smallest + 1]
        sections[smallest] = (left[0], [*left[1], f"**{right[0]}**", *right[1]])
        del sections[smallest + 1]
    return sections


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "\u2026"


def build_lesson_structure(text: str) -> tuple[dict, str]:
    """The lesson_structure JSON object for a source's text, and the language
    (ISO 639-1) it is written in ("" when unsure)."""
    blocks = parse_blocks(clean_source(text))
    sample = _prose_sample(blocks)
    if not any(char.isalnum() for char in sample) and not any(block.kind == CODE for block in blocks):
        raise ProviderError("the text is empty", provider=NAME)
    code = detect_language(sample)
    language = language_resources(code)
    document = _regroup(build_document(blocks, language))
    # Words of the source's own headings name what it is about.
    heading_words = frozenset(
        word.casefold()
        for block in document.blocks
        if block.kind in (HEADING, TITLE)
        for word in [block.text, *block.text.split()]
    )
    terms = extract_terms([sentence.plain for sentence in document.sentences], language, boost=heading_words)

    title, title_index = find_title(document)
    introduction = language.quiz_words.introduction
    parts = split_by_headings(document, title_index, introduction)
    if parts is None:
        indexes = [index for index in range(len(document.blocks)) if index != title_index]
        parts = split_by_topics(document, indexes)
    if not parts:
        parts = [Part(None, [index for index in range(len(document.blocks)) if index != title_index])]
    if not title:
        title = keyword_title(terms, language, sample)
    title = _clip(title, _MAX_TITLE_CHARS)
    name_parts(parts, document, terms, title)

    part_sentences = [part.sentence_indexes(document) for part in parts]
    total_words = sum(part.words(document) for part in parts)
    whole = total_words <= WHOLE_UP_TO_WORDS
    budget = word_budget(total_words)
    code_kept = _code_to_keep(parts, document, whole, budget, total_words)
    code_words = sum(block_words(document.blocks[index]) for index in code_kept)
    # Kept code counts against the note's budget: the sentences get the rest.
    kept = select_sentences(document, part_sentences, terms, max(budget - code_words, budget // 2))
    visuals = choose_visuals(document, part_sentences, terms, kept, document.words())
    placeholders: dict[int, list[str]] = {}
    for visual in visuals:
        placeholders.setdefault(visual.block, []).append(visual.description)

    sections: list[tuple[str, list[str]]] = []
    for number, part in enumerate(parts):
        inside = set(part_sentences[number])
        bold_terms = [
            term
            for term in terms[:_BOLD_TOP_TERMS]
            if (term.count >= 2 or term.defined) and any(index in inside for index in term.sentences)
        ][:_BOLD_PER_SECTION]
        rendered = _render_part(part, document, kept, code_kept, bold_terms, placeholders)
        if not rendered:
            continue
        heading = _clip(part.heading or title, _MAX_HEADING_CHARS)
        sections.extend(_split_oversized(heading, rendered, document))
    if not sections:
        # Only headings (or only code that was left out): keep the words there are.
        sections = [(title, [sample[:MAX_SECTION_CHARS] or title])]
    sections = _within_bounds(sections)
    return (
        {
            "title": title,
            "structure": [
                {"heading": heading, "content": "\n\n".join(content)} for heading, content in sections
            ],
            "visualOpportunities": [
                {"description": visual.description, "searchQuery": visual.query} for visual in visuals
            ],
        },
        code,
    )
