"""Reading a note (the quiz and flashcards calls): its sections, sentences,
key terms, and for each term the sentence that defines it or best explains it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from pipeline.language import detect_language

from .blocks import HEADING, TITLE, parse_blocks
from .cleaning import clean_source
from .definitions import defines
from .document import PROSE_KINDS, Document, build_document
from .markup import bold_spans
from .resources import Language, language_resources
from .summary import centrality
from .terms import Term, extract_terms

# The note's fallback for a picture that could not be found: not study material.
_ILLUSTRATION_RE = re.compile(r"\*\[Illustration unavailable:[^\n]{0,600}?\]\*")
_MIN_SENTENCE_WORDS = 4
_MAX_SENTENCE_WORDS = 60
_DANGLING = {
    "en": "this these that those it they such here there he she",
    "es": "esto esta este estos estas eso esa ese esas esos ello ella él ellos ellas",
    "fr": "cela ceci ce cette ces cet il elle ils elles",
    "de": "dies diese dieser dieses das es sie er dort",
    "it": "questo questa questi queste ciò esso essa essi",
    "pt": "isto isso este esta estes estas ele ela eles elas",
}


@dataclass
class Material:
    document: Document
    language: Language
    terms: list[Term]
    section_of: dict[int, int] = field(default_factory=dict)  # sentence -> section number
    scores: dict[int, float] = field(default_factory=dict)  # centrality within its section
    defining: dict[int, int] = field(default_factory=dict)  # term rank -> its defining sentence
    seed: int = 0

    def words(self) -> int:
        return self.document.words()

    def is_question(self, index: int) -> bool:
        return self.document.sentences[index].plain.rstrip().endswith("?")

    def usable(self, index: int) -> bool:
        sentence = self.document.sentences[index]
        return (
            _MIN_SENTENCE_WORDS <= sentence.words <= _MAX_SENTENCE_WORDS
            and not self.is_question(index)
            and any(char.isalpha() for char in sentence.plain)
        )

    def best_sentence(self, term: Term, avoid: set[int] = frozenset()) -> int | None:
        """The sentence that defines the term, else its most central one (never
        a question)."""
        defining = self.defining.get(term.rank)
        if defining is not None and defining not in avoid:
            return defining
        holding = [index for index in term.sentences if self.usable(index) and index not in avoid]
        if not holding:
            return None
        return max(holding, key=lambda index: (self.scores.get(index, 0.0), -index))

    def with_context(self, index: int) -> str:
        """The sentence, after the one before it when it opens with "This",
        "It"... and so needs it to make sense."""
        sentences = self.document.sentences
        sentence = sentences[index]
        first = sentence.plain.split(" ", 1)[0].casefold().strip(",;:")
        dangling = _DANGLING.get(self.language.code, "").split()
        if index > 0 and first in dangling and sentences[index - 1].block == sentence.block:
            joined = f"{sentences[index - 1].plain} {sentence.plain}"
            if len(joined) <= 600:
                return joined
        return sentence.plain


def stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def read_note(markdown: str) -> Material:
    text = _ILLUSTRATION_RE.sub(" ", markdown)
    blocks = parse_blocks(clean_source(text), plain_headings=False)
    sample = "\n".join(block.text for block in blocks if block.kind in (*PROSE_KINDS, HEADING, TITLE))
    language = language_resources(detect_language(sample))
    document = build_document(blocks, language)
    boost = frozenset(span.casefold() for span in bold_spans(text))
    terms = extract_terms([sentence.plain for sentence in document.sentences], language, boost=boost)
    material = Material(document, language, terms, seed=stable_int(sample[:4000]))
    section = 0
    sections: list[list[int]] = [[]]
    for number, block in enumerate(blocks):
        if block.kind == HEADING and block.level <= 2:
            section += 1
            sections.append([])
        for index in document.block_sentences[number]:
            material.section_of[index] = section
            sections[-1].append(index)
    for indexes in sections:
        material.scores.update(centrality(document, indexes))
    for term in terms[:120]:
        for index in term.sentences:
            if material.usable(index) and defines(document.sentences[index].plain, term, language):
                material.defining[term.rank] = index
                break
    return material
