"""Condensing a section: its most central sentences, and the sentences that
define or best carry the text's key terms.

Centrality is TextRank: sentences are nodes, two sentences are linked by the
content words they share (normalised by their lengths, as in Mihalcea and
Tarau 2004), and PageRank ranks them. A section's sentences are ranked in
windows of at most ``_WINDOW`` sentences, so the work grows linearly with the
text rather than with the square of a long section.

The note keeps a budget of words: a short source stays whole; a long one is
condensed to about a third (see ``word_budget``). Within the budget, the
text's key terms come first: each gets its defining sentence (or its most
central one), so that the note keeps the terms while losing most words.
"""

from __future__ import annotations

import math

from .definitions import defines
from .document import Document
from .terms import Term

_WINDOW = 120
_DAMPING = 0.85
_ITERATIONS = 30
# Sources up to this many words stay whole.
WHOLE_UP_TO_WORDS = 500
_LONG_SHARE = 0.33
# Key terms whose sentences are kept first, and the share of the budget they may take.
_COVERED_TERMS = 40
_COVERAGE_SHARE = 0.85
_LONG_SENTENCE_WORDS = 40


def word_budget(words: int) -> int:
    """How many words the note may keep of a source of ``words`` words: all of
    a short one, at most 40% from 1,000 words on (about a third of a long one)."""
    if words <= WHOLE_UP_TO_WORDS:
        return words
    shrinking = WHOLE_UP_TO_WORDS - 0.24 * (words - WHOLE_UP_TO_WORDS)
    return int(max(_LONG_SHARE * words, shrinking))


def centrality(document: Document, indexes: list[int]) -> dict[int, float]:
    """TextRank scores (0 to 1 within each window) of the given sentences."""
    scores: dict[int, float] = {}
    for start in range(0, len(indexes), _WINDOW):
        window = indexes[start : start + _WINDOW]
        scores.update(_textrank(document, window))
    return scores


def _textrank(document: Document, window: list[int]) -> dict[int, float]:
    size = len(window)
    if size == 1:
        return {window[0]: 1.0}
    stems = [document.sentences[index].stems for index in window]
    # Who shares words with whom, through an index of the words.
    holders: dict[str, list[int]] = {}
    for position, words in enumerate(stems):
        for word in words:
            holders.setdefault(word, []).append(position)
    shared: list[dict[int, int]] = [{} for _ in range(size)]
    for positions in holders.values():
        if len(positions) > size // 2 + 1 and size > 8:
            continue  # a word in most sentences links everything and says nothing
        for first in positions:
            row = shared[first]
            for second in positions:
                if second != first:
                    row[second] = row.get(second, 0) + 1
    edges: list[dict[int, float]] = []
    for position, row in enumerate(shared):
        length = math.log(len(stems[position]) + 1)
        edges.append(
            {
                other: count / (length + math.log(len(stems[other]) + 1))
                for other, count in row.items()
                if length > 0 and stems[other]
            }
        )
    out_weight = [sum(row.values()) for row in edges]
    rank = [1.0 / size] * size
    for _ in range(_ITERATIONS):
        incoming = [0.0] * size
        for source, row in enumerate(edges):
            if not out_weight[source]:
                continue
            share = rank[source] / out_weight[source]
            for target, weight in row.items():
                incoming[target] += share * weight
        rank = [(1 - _DAMPING) / size + _DAMPING * value for value in incoming]
    top = max(rank) or 1.0
    return {index: rank[position] / top for position, index in enumerate(window)}


def select_sentences(
    document: Document,
    sections: list[list[int]],
    terms: list[Term],
    budget: int,
) -> set[int]:
    """Indexes of the sentences the note keeps. ``sections`` lists the
    sentence indexes of each section."""
    total = sum(document.sentences[index].words for section in sections for index in section) or 1
    if budget >= total:
        return {index for section in sections for index in section}
    language = document.language
    section_of = {index: number for number, section in enumerate(sections) for index in section}
    scores: dict[int, float] = {}
    for section in sections:
        scores.update(centrality(document, section))
    chosen: set[int] = set()
    used = 0
    covered: set[int] = set()  # term ranks already in a chosen sentence
    top_terms = terms[:_COVERED_TERMS]
    holders = {term.rank: set(term.sentences) for term in top_terms}
    for term in top_terms:
        if term.rank in covered or used >= _COVERAGE_SHARE * budget:
            continue
        holding = [index for index in term.sentences if index in section_of]
        if not holding:
            continue
        if any(index in chosen for index in holding):
            covered.add(term.rank)
            continue
        index = _best_sentence_for(document, term, holding, scores, holders, covered, language)
        chosen.add(index)
        used += document.sentences[index].words
        covered.update(rank for rank, held in holders.items() if index in held)
    # Then the most central sentences of each section, up to its share of the budget.
    for section in sections:
        words = sum(document.sentences[index].words for index in section)
        allowance = budget * words / total
        kept = sum(document.sentences[index].words for index in section if index in chosen)
        for index in sorted(section, key=lambda item: (-scores.get(item, 0.0), item)):
            if kept >= allowance:
                break
            if index in chosen or document.sentences[index].plain.rstrip().endswith("?"):
                continue
            sentence_words = document.sentences[index].words
            if kept + sentence_words > allowance * 1.15 and kept > 0:
                continue
            chosen.add(index)
            kept += sentence_words
        if not any(index in chosen for index in section) and section:
            chosen.add(max(section, key=lambda item: (scores.get(item, 0.0), -item)))
    return chosen


def _best_sentence_for(
    document: Document,
    term: Term,
    holding: list[int],
    scores: dict[int, float],
    holders: dict[int, set[int]],
    covered: set[int],
    language,
) -> int:
    """The sentence that defines the term (the first such), else the one that
    is most central and carries the most other key terms not yet kept."""
    for index in holding:
        sentence = document.sentences[index]
        if sentence.words <= _LONG_SENTENCE_WORDS and defines(sentence.plain, term, language):
            return index

    def value(index: int) -> tuple[float, int]:
        sentence = document.sentences[index]
        others = sum(1 for rank, held in holders.items() if rank not in covered and index in held)
        length_penalty = 0.5 if sentence.words > _LONG_SENTENCE_WORDS else 0.0
        question = 1.0 if sentence.plain.rstrip().endswith("?") else 0.0
        return (scores.get(index, 0.0) + 0.3 * others - length_penalty - question, -index)

    return max(holding, key=value)
