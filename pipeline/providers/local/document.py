"""A parsed text as the offline AI works on it: blocks, and their sentences."""

from __future__ import annotations

from dataclasses import dataclass, field

from .blocks import CODE, LIST, PARAGRAPH, QUOTE, Block
from .markup import display_to_plain
from .resources import Language
from .sentences import split_sentences
from .terms import tokens

PROSE_KINDS = (PARAGRAPH, QUOTE, LIST)


@dataclass
class Sentence:
    display: str  # with code spans
    plain: str  # what a student reads; an exact piece of the text
    block: int  # index of its block
    item: int = -1  # index of its list item, for list blocks
    stems: frozenset[str] = frozenset()  # content words, stemmed
    words: int = 0


@dataclass
class Document:
    blocks: list[Block]
    language: Language
    sentences: list[Sentence] = field(default_factory=list)
    # Sentence indexes of each block (empty for code, tables, headings).
    block_sentences: list[list[int]] = field(default_factory=list)

    def words(self) -> int:
        return sum(sentence.words for sentence in self.sentences)


def content_stems(plain: str, language: Language) -> frozenset[str]:
    return frozenset(
        language.stem(token.text)
        for token in tokens(plain, language)
        if len(token.text) > 1 and not language.is_stop_word(token.text)
    )


def build_document(blocks: list[Block], language: Language) -> Document:
    document = Document(blocks, language)
    for number, block in enumerate(blocks):
        indexes: list[int] = []
        if block.kind in PROSE_KINDS:
            parts = list(enumerate(block.items)) if block.kind == LIST else [(-1, block.text)]
            for item, text in parts:
                for display in split_sentences(text, language.code):
                    plain = display_to_plain(display)
                    document.sentences.append(
                        Sentence(
                            display=display,
                            plain=plain,
                            block=number,
                            item=item,
                            stems=content_stems(plain, language),
                            words=len(plain.split()),
                        )
                    )
                    indexes.append(len(document.sentences) - 1)
        document.block_sentences.append(indexes)
    return document


def block_words(block: Block) -> int:
    if block.kind == CODE:
        return len(block.text.split())
    if block.kind == LIST:
        return sum(len(item.split()) for item in block.items)
    return len(block.text.split())


def markdown_to_plain(markdown: str) -> str:
    """Markdown (a note, or pasted text) to plain paragraphs separated by blank
    lines: headings, paragraphs and list items each a paragraph; images, code,
    HTML tags and ``[VISUAL::...]`` placeholders gone."""
    from .blocks import HEADING, TITLE, parse_blocks
    from .cleaning import normalize
    from .markup import display_to_plain

    paragraphs: list[str] = []
    for block in parse_blocks(normalize(markdown), plain_headings=False):
        if block.kind in (HEADING, TITLE, PARAGRAPH, QUOTE):
            paragraphs.append(display_to_plain(block.text))
        elif block.kind == LIST:
            paragraphs.extend(display_to_plain(item) for item in block.items)
    return "\n\n".join(paragraph for paragraph in paragraphs if any(char.isalnum() for char in paragraph))


def key_terms(plain: str, limit: int = 30) -> list[str]:
    """The key terms of a plain text, best first, spelled as in the text."""
    from pipeline.language import detect_language

    from .resources import language_resources
    from .terms import extract_terms

    language = language_resources(detect_language(plain))
    sentences = [
        sentence
        for paragraph in plain.split("\n\n")
        for sentence in split_sentences(paragraph, language.code)
    ]
    return [term.form for term in extract_terms(sentences, language)[:limit]]
