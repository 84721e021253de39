"""The offline AI provider: no key, no network, deterministic.

It answers the three calls of SPEC section 4 from the text alone:

- lesson_structure follows the text's own structure (Markdown headings, lines
  that look like headings, else paragraphs grouped by size), keeps the text as
  the content and adds one to three ``[VISUAL::description]`` placeholders about
  the text's key concepts;
- quiz asks cloze questions built from sentences holding a key term, with other
  key terms of the same text as distractors;
- flashcards pair each key term with the sentence of the text that defines it.

Key terms come from YAKE (unsupervised keyword extraction), filtered so that
verb fragments and generic words do not become terms.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import yake

from .base import AICall, Completion, ProviderError

NAME = "local"

# YAKE's running time grows with the text; this much is plenty to find key terms.
_KEYWORD_SAMPLE_CHARS = 60_000
_MAX_SECTIONS = 40  # the schema's bound
_MAX_SECTION_CHARS = 15_000  # below the schema's 20 000 per section
_MAX_DESCRIPTION_CHARS = 160
_MAX_QUESTION_SENTENCE_CHARS = 380
_MAX_BACK_CHARS = 400

_VISUAL_RE = re.compile(r"\[VISUAL::[^\[\]\n]*\]|\[VISUAL::", re.IGNORECASE)
_FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_ATX_EMPTY_RE = re.compile(r"^\s{0,3}#{1,6}\s*$")
_SETEXT_RE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_LIST_RE = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_NUMBERED_HEADING_RE = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})*[.)]?|[IVXLC]{1,5}[.)]|(?:chapter|part|section|unit|lecture|module)\s+\w+)"
    r"(?:\s|$)",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
_WORD_RE = re.compile(r"[A-Za-z\u00C0-\u024F0-9][\w'\u2019-]*")


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_SMALL_WORDS = _wordset("a an and as at but by for from in into nor of on or per the to vs via with")
# A word before a term that says "a noun phrase starts here" (or the text does).
_NOUN_CONTEXT = _wordset(
    """
    the a an this these those its their our his her my your each every some many much
    most more less few several other another such no any all both either neither of in on at
    by for from with without within into onto about against during through across between
    among via per than as like called named including include includes contain contains
    containing called termed
    """
)
# A word before a term that says "a verb is here" ("to move", "they remove").
_VERB_CONTEXT = _wordset(
    """
    to can could will would may might must should shall cannot not also often then does do did
    they we you i he she it who which that usually always never sometimes
    """
)
# A word after a term that says "this was a verb with its object" ("removes them").
_OBJECT_WORDS = _wordset("the a an them it us him these those its their our his her this my your")
_ADVERB_ENDINGS = ("ally", "ously", "ively", "ently", "antly", "ingly", "edly", "tly", "rly", "dly", "fully")
_ADJECTIVE_ENDINGS = ("ive", "ous", "ful", "less", "able", "ible", "ical", "ed", "est")
# Words that YAKE likes but that make poor study terms on their own.
_GENERIC_WORDS = _wordset(
    """
    also often however therefore thus hence may might must can could would should will shall
    one two three four five six seven eight nine ten first second third last next new old
    people person time times way ways day days year years thing things lot lots part parts
    kind kinds type types example examples number numbers percent lecture lectures chapter
    section today use used using uses make makes made making get gets got take takes took
    good bad great small large big little long short high low able well much many less
    different same other others various certain several whole main major minor important
    reason reasons fact facts case cases point points idea ideas word words sentence text
    note notes page pages figure figures table tables see seen look looks something anything
    everything nothing someone everyone instead even still yet just only rather quite very
    called named known termed find found live lives become becomes became help helps
    introduction summary conclusion conclusions overview recap background outline contents
    """
)
_STOPWORDS = _SMALL_WORDS | _wordset(
    """
    i me we us you he him she it they them what which who whom whose when where why how
    is are was were be been being am do does did done have has had having not no yes if then
    else than so too this that these those there here all any both each few more most some
    such own its their our his her my your up down out off over under again further once
    because while until about against between through during before after above below
    """
)
_META_RE = re.compile(
    r"\b(?:this|the|today's|our) (?:lecture|chapter|section|lesson|talk|video|course|unit|module)\b"
    r"|\bwe(?: will|'ll)\b|\bin this\b|\btoday,? we\b|\bwelcome\b",
    re.IGNORECASE,
)
_DANGLING_START_RE = re.compile(r"^(?:this|these|that|those|it|they|such|here|there)\b", re.IGNORECASE)
_PROCESS_HINTS = _wordset(
    """
    process processes cycle cycles stage stages step steps convert converts converted produce
    produces produced flow flows pathway pathways mechanism mechanisms reaction reactions
    transform transforms release releases transport transports form forms formed
    """
)
_STRUCTURE_HINTS = _wordset(
    """
    structure structures contain contains containing layer layers part parts surface organ
    organs cell cells membrane shape shapes made consists composed inside outside
    """
)


@dataclass
class _Section:
    heading: str | None
    blocks: list[str] = field(default_factory=list)

    def words(self) -> int:
        return sum(_count_words(block) for block in self.blocks)

    def chars(self) -> int:
        return sum(len(block) + 2 for block in self.blocks)


class LocalAIProvider:
    """Offline stand-in for a language model (SPEC section 4, provider ``local``)."""

    name = NAME

    def complete(
        self, call: AICall, text: str, *, language: str = "", part: tuple[int, int] | None = None
    ) -> Completion:
        if not isinstance(text, str):
            raise ProviderError("the text must be a string", provider=NAME)
        if call == "lesson_structure":
            return Completion(data=build_lesson_structure(text))
        if call == "quiz":
            return Completion(data=build_quiz(text))
        if call == "flashcards":
            return Completion(data=build_flashcards(text))
        raise ProviderError(f"unknown call {call!r}", provider=NAME)


# --------------------------------------------------------------------------- #
# Text helpers
# --------------------------------------------------------------------------- #


def _count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int, ellipsis: str = "\u2026") -> str:
    """Cut at a word boundary so the result (with the ellipsis) fits in `limit`."""
    text = _squash(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + ellipsis


def _stable_int(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _strip_inline_markdown(text: str) -> str:
    """Inline Markdown and HTML to plain words (one line or a paragraph)."""
    text = _VISUAL_RE.sub(" ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)  # images
    text = re.sub(r"!\[[^\]]*\]\[[^\]]*\]", " ", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"<(?:https?|mailto|ftp):[^>\s]*>", " ", text)  # autolinks
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"</?[A-Za-z][^>]*>", " ", text)  # html tags
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"`+([^`]*)`+", r"\1", text)  # inline code keeps its words
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", r"\1", text)
    text = re.sub(r"~~(?=\S)(.+?)(?<=\S)~~", r"\1", text)
    text = html.unescape(text)
    return text


def markdown_to_plain(markdown: str) -> str:
    """Markdown (a note, or pasted text) to plain paragraphs separated by blank lines.

    Drops images, code blocks, HTML tags and ``[VISUAL::...]`` placeholders;
    keeps the words of links, headings, emphasis, lists and tables. Headings and
    list items become paragraphs of their own.
    """
    markdown = markdown.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    markdown = _VISUAL_RE.sub("\n", markdown)
    out: list[str] = []
    in_fence: str | None = None
    lines = markdown.split("\n")
    for index, line in enumerate(lines):
        fence = _FENCE_RE.match(line)
        if in_fence:
            if fence and fence.group(1)[0] == in_fence[0] and len(fence.group(1)) >= len(in_fence):
                in_fence = None
            continue
        if fence:
            in_fence = fence.group(1)
            out.append("")
            continue
        if _TABLE_SEP_RE.match(line) and "-" in line:
            continue
        if re.match(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$", line) or _SETEXT_RE.match(line):
            out.append("")
            continue
        heading = _ATX_RE.match(line)
        if heading:
            out.extend(["", heading.group(2), ""])
            continue
        if _ATX_EMPTY_RE.match(line):
            continue
        line = re.sub(r"^\s{0,3}(?:>\s?)+", "", line)  # block quotes
        if _LIST_RE.match(line):
            out.extend(["", _LIST_RE.sub("", line, count=1)])
            continue
        if "|" in line and line.strip().startswith("|"):
            line = " ; ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        elif line.strip() and _looks_like_heading(
            line,
            lines[index - 1] if index else None,
            next((candidate for candidate in lines[index + 1 : index + 4] if candidate.strip()), None),
            index + 1 < len(lines) and not lines[index + 1].strip(),
        ):
            out.extend(["", line, ""])  # a plain-text heading is a paragraph of its own
            continue
        out.append(line)
    paragraphs = []
    for block in re.split(r"\n\s*\n", "\n".join(out)):
        plain = _squash(_strip_inline_markdown(block))
        if plain and re.search(r"\w", plain):
            paragraphs.append(plain)
    return "\n\n".join(paragraphs)


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one plain paragraph (a heading or list item is one sentence)."""
    paragraph = _squash(paragraph)
    if not paragraph:
        return []
    return [part.strip() for part in _SENTENCE_SPLIT_RE.split(paragraph) if part.strip()]


def _is_prose_sentence(sentence: str, min_words: int = 5, max_words: int = 70) -> bool:
    words = _count_words(sentence)
    return min_words <= words <= max_words and sentence.rstrip("\"'\u201d\u2019)").endswith((".", "!", "?"))


def _stem(word: str) -> str:
    word = word.casefold().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _term_key(term: str) -> str:
    return " ".join(_stem(word) for word in re.findall(r"[\w'\u2019-]+", term))


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in term.split()]
    return re.compile(r"(?<![\w-])" + r"[^\S\n]+".join(words) + r"(?![\w-])", re.IGNORECASE)


def _contains_term(text: str, term: str) -> bool:
    return _term_pattern(term).search(text) is not None


def _smart_title(text: str) -> str:
    words = text.split()
    titled = []
    for index, word in enumerate(words):
        if any(char.isupper() for char in word):
            titled.append(word)  # keep acronyms and names as written (mRNA, DNA, Calvin)
        elif index > 0 and word.casefold() in _SMALL_WORDS:
            titled.append(word)
        else:
            titled.append(word[:1].upper() + word[1:])
    return " ".join(titled)


def _capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


# --------------------------------------------------------------------------- #
# Key terms (YAKE, then filtered)
# --------------------------------------------------------------------------- #


def _extractor(top: int) -> yake.KeywordExtractor:
    # A fresh extractor per call: YAKE keeps a similarity cache on the instance,
    # which would grow without bound (and be shared between threads) in a worker.
    return yake.KeywordExtractor(lan="en", n=3, dedup_lim=0.8, top=top)


def _plausible_term(keyword: str) -> bool:
    words = keyword.split()
    if not words or len(keyword) < 3 or len(keyword) > 60:
        return False
    if not re.search(r"[A-Za-z\u00C0-\u024F]{2}", keyword):
        return False
    if any(not re.fullmatch(r"[\w'\u2019-]+", word) for word in words):
        return False
    lowered = [word.casefold() for word in words]
    if lowered[0] in _STOPWORDS or lowered[-1] in _STOPWORDS:
        return False
    return not all(word in _GENERIC_WORDS or word in _STOPWORDS or word.isdigit() for word in lowered)


@dataclass
class _Evidence:
    form: str  # the spelling used in the text (mid-sentence spellings preferred)
    count: int
    noun_share: float  # occurrences where a noun phrase starts
    verb_share: float  # occurrences after "to", a modal or a pronoun
    modifier_only: bool  # a single word that only ever modifies a following word
    proper: bool  # capitalised words, also found mid-sentence (a name)


def _term_evidence(text: str, keyword: str) -> _Evidence:
    forms: Counter[str] = Counter()
    weights: Counter[str] = Counter()
    nounish = verbish = modifier = 0
    following_words: set[str] = set()
    for match in _term_pattern(keyword).finditer(text):
        form = _squash(match.group(0))
        forms[form] += 1
        before = text[max(0, match.start() - 40) : match.start()]
        previous = re.search(r"([\w'\u2019-]+)?([^\w'\u2019-]*)$", before)
        separator = previous.group(2) if previous else ""
        word = (previous.group(1) or "").casefold() if previous else ""
        sentence_start = not word or re.search(r"[.!?:;(\n\"\u201c]", separator) is not None
        weights[form] += 1 if sentence_start else 2
        after = re.match(r"( +)([A-Za-z][\w'\u2019-]*)", text[match.end() : match.end() + 40])
        if after and after.group(2).casefold() in _OBJECT_WORDS:
            verbish += 1  # "removes them", "move a few": a verb and its object
        elif sentence_start or word in _NOUN_CONTEXT:
            nounish += 1
        elif word in _VERB_CONTEXT:
            verbish += 1
        if after and after.group(2).casefold() not in _STOPWORDS:
            modifier += 1
            following_words.add(_stem(after.group(2)))
        else:
            following_words.add("")
    total = sum(forms.values())
    if not total:
        return _Evidence(keyword, 0, 0.0, 0.0, False, False)
    # Mid-sentence spellings win; then the plainer (less capitalised) one.
    best = max(forms, key=lambda item: (weights[item], -sum(char.isupper() for char in item)))
    single = " " not in best
    modifier_only = single and (
        ("" not in following_words and len(following_words) == 1 and total >= 2)
        or (best.casefold().endswith(_ADJECTIVE_ENDINGS) and modifier / total >= 0.5)
    )
    proper = all(word[:1].isupper() for word in best.split()) and weights[best] > forms[best]
    return _Evidence(best, total, nounish / total, verbish / total, modifier_only, proper)


def _ranked_terms(plain: str, limit: int) -> tuple[list[str], list[str]]:
    """Strong and weak key terms of a plain text, best first, spelled as in the text.

    Strong terms are YAKE's candidates found where noun phrases start (and,
    for multi-word ones, found at least twice); weak ones are the rest, kept so
    that a short text still has some terms. No two terms share a stem form, and
    a term that is part of a better one is left out.
    """
    sample = plain[:_KEYWORD_SAMPLE_CHARS]
    if not sample.strip():
        return [], []
    raw = [keyword for keyword, _score in _extractor(max(60, limit * 3)).extract_keywords(sample)]
    strong: list[str] = []
    weak: list[str] = []
    counts: dict[str, int] = {}
    for keyword in raw:
        keyword = _squash(keyword)
        if not _plausible_term(keyword):
            continue
        evidence = _term_evidence(sample, keyword)
        if not evidence.count:
            continue
        words = evidence.form.casefold().split()
        multi = len(words) > 1
        if not multi and words[0].endswith(_ADVERB_ENDINGS):
            continue
        if multi and (
            any(word in _STOPWORDS and word != "of" for word in words[1:-1])
            or words[-1].endswith(("ed", "ing"))
        ):
            weak.append(evidence.form)
            continue
        if (
            evidence.noun_share >= 0.34
            and evidence.verb_share < evidence.noun_share
            and not evidence.modifier_only
            and (not multi or evidence.count >= 2 or evidence.proper)
        ):
            strong.append(evidence.form)
            counts[evidence.form] = evidence.count
        else:
            weak.append(evidence.form)
    if _count_words(sample) >= 150:
        # In a real lecture a key term comes back; one-off words go after those that do.
        strong.sort(key=lambda form: counts[form] < 2)
    keys: list[str] = []
    kept: tuple[list[str], list[str]] = ([], [])
    for group, candidates in enumerate((strong, weak)):
        for candidate in candidates:
            key = _term_key(candidate)
            padded = f" {key} "
            if not key or any(key == other or padded in f" {other} " for other in keys):
                continue
            if len(kept[0]) + len(kept[1]) >= limit:
                break
            kept[group].append(candidate)
            keys.append(key)
    return kept


def key_terms(plain: str, limit: int = 30) -> list[str]:
    """Ranked key terms of a plain text (strong ones first), spelled as in the text."""
    strong, weak = _ranked_terms(plain, limit)
    return strong + weak


# --------------------------------------------------------------------------- #
# Lesson structure
# --------------------------------------------------------------------------- #


def _looks_like_heading(line: str, previous: str | None, following: str | None, blank_after: bool) -> bool:
    text = line.strip()
    words = text.split()
    if not words or len(words) > 12 or len(text) > 90 or following is None:
        return False
    if text[-1] in ".,;!?" or (_LIST_RE.match(text) and not _NUMBERED_HEADING_RE.match(text)):
        return False
    if not re.search(r"[A-Za-z\u00C0-\u024F]", text):
        return False
    if (
        previous is not None
        and previous.strip()
        and not previous.rstrip().endswith((".", "!", "?", ":", '"', "\u201d", ")"))
    ):
        return False
    nxt = following.lstrip()
    if not nxt or not (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"'(\u201c-*\u2022"):
        return False
    numbered = _NUMBERED_HEADING_RE.match(text) is not None
    if numbered and _LIST_RE.match(text) and _LIST_RE.match(nxt):
        return False  # the first item of a numbered list
    letters = [char for char in text if char.isalpha()]
    all_caps = len(letters) >= 3 and all(char.isupper() for char in letters)
    if not (text[0].isupper() or numbered):
        return False
    content = [word for word in words if word.casefold() not in _SMALL_WORDS]
    capitalised = sum(1 for word in content if word[:1].isupper() or word[:1].isdigit())
    title_case = bool(content) and capitalised / len(content) >= 0.6 and len(words) <= 10
    standalone = blank_after and (previous is None or not previous.strip()) and len(words) <= 10
    return numbered or all_caps or title_case or standalone


def _blocks(lines: list[str]) -> list[str]:
    """Split lines into Markdown blocks at blank lines, keeping fenced code whole."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence: str | None = None
    for line in lines:
        fence = _FENCE_RE.match(line)
        if in_fence:
            current.append(line)
            if fence and fence.group(1)[0] == in_fence[0] and len(fence.group(1)) >= len(in_fence):
                in_fence = None
            continue
        if fence:
            in_fence = fence.group(1)
            current.append(line)
            continue
        if not line.strip():
            if current:
                blocks.append("\n".join(current).strip("\n"))
                current = []
            continue
        current.append(line.rstrip())
    if current:
        blocks.append("\n".join(current).strip("\n"))
    return [block for block in blocks if block.strip()]


def _is_prose_block(block: str) -> bool:
    lines = block.split("\n")
    return not (
        _FENCE_RE.match(lines[0])
        or any(_LIST_RE.match(line) for line in lines)
        or any(line.lstrip().startswith(("|", ">", "#")) for line in lines)
        or all(line.startswith(("    ", "\t")) for line in lines)
    )


def _reflow(blocks: list[str], markdown: bool) -> list[str]:
    """Join wrapped lines of prose (plain text) and cut very long paragraphs
    into paragraphs of a few sentences."""
    result: list[str] = []
    for block in blocks:
        if not _is_prose_block(block):
            result.append(block)
            continue
        if not markdown or _count_words(block) > 180:
            block = _squash(block)
        if _count_words(block) <= 180:
            result.append(block)
            continue
        sentences = split_sentences(block)
        chunk: list[str] = []
        for sentence in sentences:
            chunk.append(sentence)
            if len(chunk) >= 5 or _count_words(" ".join(chunk)) >= 140:
                result.append(" ".join(chunk))
                chunk = []
        if chunk:
            result.append(" ".join(chunk))
    # A single "paragraph" longer than a section can hold is cut by characters.
    final: list[str] = []
    for block in result:
        while len(block) > _MAX_SECTION_CHARS:
            cut = block.rfind(" ", 0, _MAX_SECTION_CHARS)
            cut = cut if cut > 0 else _MAX_SECTION_CHARS
            final.append(block[:cut].rstrip())
            block = block[cut:].lstrip()
        if block:
            final.append(block)
    return final


def _markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, heading text) of ATX and setext headings outside code."""
    found: list[tuple[int, int, str]] = []
    in_fence: str | None = None
    for index, line in enumerate(lines):
        fence = _FENCE_RE.match(line)
        if in_fence:
            if fence and fence.group(1)[0] == in_fence[0] and len(fence.group(1)) >= len(in_fence):
                in_fence = None
            continue
        if fence:
            in_fence = fence.group(1)
            continue
        match = _ATX_RE.match(line)
        if match and _squash(_strip_inline_markdown(match.group(2))):
            found.append((index, len(match.group(1)), _squash(_strip_inline_markdown(match.group(2)))))
            continue
        if (
            index + 1 < len(lines)
            and line.strip()
            and not _LIST_RE.match(line)
            and (index == 0 or not lines[index - 1].strip())
            and _SETEXT_RE.match(lines[index + 1])
            and len(line.strip()) <= 120
        ):
            level = 1 if lines[index + 1].strip().startswith("=") else 2
            found.append((index, level, _squash(_strip_inline_markdown(line))))
    return found


def _plain_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        previous = lines[index - 1] if index > 0 else None
        following = next((candidate for candidate in lines[index + 1 :] if candidate.strip()), None)
        blank_after = index + 1 < len(lines) and not lines[index + 1].strip()
        if _looks_like_heading(line, previous, following, blank_after):
            found.append((index, 2, _squash(line.strip().rstrip(":"))))
    return found


def _split_by_headings(
    lines: list[str], headings: list[tuple[int, int, str]], markdown: bool, find_title: bool = True
) -> tuple[str | None, list[_Section]]:
    """Sections at the highest heading level; a first heading above all others is the title."""
    first_line = next((index for index, line in enumerate(lines) if line.strip()), 0)
    title: str | None = None
    if find_title and headings and headings[0][0] == first_line:
        rest = headings[1:]
        if not rest or headings[0][1] < min(level for _index, level, _text in rest):
            title = headings[0][2]
            headings = rest
    skip = {index for index, _level, _text in headings}
    if title is not None:
        skip.add(first_line)
    if not headings:
        return title, [_Section(None, _reflow(_blocks(_drop_setext(lines, skip)), markdown))]
    section_level = min(level for _index, level, _text in headings)
    starts = {index: text for index, level, text in headings if level == section_level}
    sections: list[_Section] = []
    current = _Section("Introduction")
    current_lines: list[str] = []
    for index, line in enumerate(lines):
        if index in starts:
            current.blocks = _reflow(_blocks(current_lines), markdown)
            sections.append(current)
            current = _Section(starts[index])
            current_lines = []
            continue
        if index in skip or _is_setext_underline(index, lines, skip):
            continue
        current_lines.append(line)
    current.blocks = _reflow(_blocks(current_lines), markdown)
    sections.append(current)
    return title, sections


def _is_setext_underline(index: int, lines: list[str], heading_lines: set[int]) -> bool:
    return index - 1 in heading_lines and _SETEXT_RE.match(lines[index]) is not None


def _drop_setext(lines: list[str], skip: set[int]) -> list[str]:
    return [
        line
        for index, line in enumerate(lines)
        if index not in skip and not _is_setext_underline(index, lines, skip)
    ]


def _group_paragraphs(blocks: list[str]) -> list[_Section]:
    total = sum(_count_words(block) for block in blocks)
    if total <= 320:
        return [_Section(None, blocks)]
    target = max(220, -(-total // 30))
    sections: list[_Section] = []
    current = _Section(None)
    for block in blocks:
        current.blocks.append(block)
        if current.words() >= target:
            sections.append(current)
            current = _Section(None)
    if current.blocks:
        if sections and current.words() < target // 3:
            sections[-1].blocks.extend(current.blocks)
        else:
            sections.append(current)
    return sections


def _name_sections(sections: list[_Section], title: str) -> None:
    used = {title.casefold()}
    for number, section in enumerate(sections, start=1):
        if section.heading:
            used.add(section.heading.casefold())
            continue
        plain = markdown_to_plain("\n\n".join(section.blocks))
        heading = None
        for term in key_terms(plain, limit=8):
            candidate = _smart_title(term)
            if candidate.casefold() not in used:
                heading = candidate
                break
        if heading is None:
            heading = "Overview" if len(sections) == 1 and "overview" not in used else f"Part {number}"
        used.add(heading.casefold())
        section.heading = heading


def _fit_sections(sections: list[_Section]) -> list[_Section]:
    """Keep within the schema: at most 40 sections of at most ~15 000 chars."""
    fitted: list[_Section] = []
    for section in sections:
        part = _Section(section.heading)
        for block in section.blocks:
            if part.blocks and part.chars() + len(block) > _MAX_SECTION_CHARS:
                fitted.append(part)
                part = _Section(f"{section.heading} (continued)")
            part.blocks.append(block)
        if part.blocks:
            fitted.append(part)
    while len(fitted) > _MAX_SECTIONS:
        sizes = [fitted[i].chars() + fitted[i + 1].chars() for i in range(len(fitted) - 1)]
        smallest = min(range(len(sizes)), key=sizes.__getitem__)
        if sizes[smallest] > _MAX_SECTION_CHARS:
            fitted = fitted[:_MAX_SECTIONS]
            break
        left, right = fitted[smallest], fitted[smallest + 1]
        left.blocks = [*left.blocks, f"**{right.heading}**", *right.blocks]
        del fitted[smallest + 1]
    return fitted


def _keyword_title(terms: list[str], plain: str) -> str:
    if not terms:
        words = plain.split()[:8]
        return _clip(" ".join(words), 80) or "Study notes"
    head = _smart_title(terms[0])
    rest: list[str] = []
    for term in terms[1:]:
        if len(rest) >= 2:
            break
        if not any(_shares_word(term, other) for other in [terms[0], *rest]):
            rest.append(_smart_title(term))
    candidates = []
    if len(rest) == 2:
        candidates.append(f"{head}: {rest[0]} and {rest[1]}")
    if rest:
        candidates.append(f"{head}: {rest[0]}")
    candidates.append(head)
    for candidate in candidates:
        if len(candidate) <= 80:
            return candidate
    return _clip(head, 80)


def _first_line_title(lines: list[str]) -> tuple[str | None, int | None]:
    """A short first line that is followed by more text reads as a title."""
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None, None
    line = lines[first].strip()
    words = line.split()
    rest = any(candidate.strip() for candidate in lines[first + 1 :])
    if (
        rest
        and 1 <= len(words) <= 12
        and len(line) <= 120
        and line[-1] not in ".,;!?"
        and not _LIST_RE.match(line)
        and re.search(r"[A-Za-z]", line)
    ):
        return _squash(_strip_inline_markdown(line)).rstrip(":") or None, first
    return None, None


def _visual_kind(sentence: str) -> str:
    words = {word.casefold() for word in _WORD_RE.findall(sentence)}
    if words & _PROCESS_HINTS:
        return "Diagram of"
    if words & _STRUCTURE_HINTS:
        return "Labelled illustration of"
    return "Illustration of"


def _description(term: str, sentence: str) -> str:
    clause = _squash(sentence).rstrip(".!?;:")
    clause = clause.replace("[", "(").replace("]", ")")
    first_word = clause.split(" ", 1)[0]
    if (
        first_word == "A" or (len(first_word) > 1 and first_word[0].isupper() and first_word[1:].islower())
    ) and (first_word.casefold() != term.split()[0].casefold() or term[:1].islower()):
        clause = clause[:1].lower() + clause[1:]  # "The cell ..." -> "the cell ...", names stay
    description = f"{_visual_kind(sentence)} {term}: {clause}"
    description = _clip(description, _MAX_DESCRIPTION_CHARS, ellipsis="")
    description = description.replace("]", ")").replace("[", "(").replace("\n", " ")
    return description.rstrip(" ,;:-") or f"Illustration of {term}"


def _search_query(term: str, sentence: str, terms: list[str]) -> str:
    """The term plus a few context words: other key terms of its sentence, then
    the sentence's own content words."""
    parts = [term]
    taken = set(_term_key(term).split())
    for other in terms:
        if len(parts) >= 3:
            break
        if _related(other, term) or set(_term_key(other).split()) & taken:
            continue
        if _contains_term(sentence, other):
            parts.append(other)
            taken |= set(_term_key(other).split())
    for word in _WORD_RE.findall(sentence):
        if len(parts) >= 4:
            break
        lowered = word.casefold()
        if (
            len(word) >= 4
            and lowered not in _STOPWORDS
            and lowered not in _GENERIC_WORDS
            and lowered not in _VERB_CONTEXT
            and not word.isdigit()
            and _stem(word) not in taken
        ):
            parts.append(lowered if word[1:].islower() else word)
            taken.add(_stem(word))
    return _clip(" ".join(parts), 120, ellipsis="")


def _defines(sentence: str, term: str) -> bool:
    """A sentence that defines the term and makes sense on its own."""
    return (
        _is_definition(sentence, term)
        and _is_prose_sentence(sentence)
        and not _DANGLING_START_RE.match(sentence)
    )


def _visual_sentence(term: str, plain: str, terms: list[str]) -> str | None:
    """The sentence of a paragraph that best explains the term: one that defines
    it, else the one holding it with the most other key terms."""
    holding = [sentence for sentence in split_sentences(plain) if _contains_term(sentence, term)]
    if not holding:
        return None
    for sentence in holding:
        if _defines(sentence, term):
            return sentence
    return max(
        holding,
        key=lambda sentence: (
            _is_prose_sentence(sentence) and not _META_RE.search(sentence),
            not _DANGLING_START_RE.match(sentence),
            sum(1 for other in terms[:12] if _contains_term(sentence, other)),
        ),
    )


def _add_visuals(sections: list[_Section], terms: list[str], total_words: int) -> list[dict]:
    if total_words < 8 or not terms:
        return []
    wanted = 1 if total_words < 200 else 2 if total_words < 600 else 3
    # Where each prose paragraph is, with its plain text.
    places: list[tuple[int, int, str]] = []
    for section_index, section in enumerate(sections):
        for block_index, block in enumerate(section.blocks):
            if _is_prose_block(block):
                places.append((section_index, block_index, markdown_to_plain(block)))
    # Concepts the text defines make the best pictures; then the best-ranked terms.
    defined = {
        term: [place for place in places if any(_defines(x, term) for x in split_sentences(place[2]))]
        for term in terms[:12]
    }
    candidates = sorted(terms[:12], key=lambda term: not defined[term]) + terms[12:]
    chosen: list[tuple[int, int, str, str]] = []  # section, block, description, query
    chosen_terms: list[str] = []
    seen_descriptions: set[str] = set()
    for prefer_new_section in (True, False):
        for term in candidates:
            if len(chosen) >= wanted:
                break
            if any(_term_key(term) == _term_key(existing) for existing in chosen_terms):
                continue
            preferred = defined.get(term, [])
            for section_index, block_index, plain in preferred + [p for p in places if p not in preferred]:
                if prefer_new_section and any(item[0] == section_index for item in chosen):
                    continue
                if any(item[0] == section_index and item[1] == block_index for item in chosen):
                    continue
                sentence = _visual_sentence(term, plain, terms)
                if sentence is None:
                    continue
                description = _description(term, sentence)
                if description.casefold() in seen_descriptions:
                    continue
                seen_descriptions.add(description.casefold())
                chosen.append((section_index, block_index, description, _search_query(term, sentence, terms)))
                chosen_terms.append(term)
                break
    # Insert from the end so that indexes stay valid; report in reading order.
    for section_index, block_index, description, _query in sorted(chosen, reverse=True):
        sections[section_index].blocks.insert(block_index + 1, f"[VISUAL::{description}]")
    return [
        {"description": description, "searchQuery": query}
        for _section, _block, description, query in sorted(chosen)
    ]


def build_lesson_structure(text: str) -> dict:
    """The lesson_structure JSON object for raw text (plain or Markdown)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _VISUAL_RE.sub("", text).strip("\n")
    plain = markdown_to_plain(text)
    if not _WORD_RE.search(plain):
        raise ProviderError("the text is empty", provider=NAME)
    lines = text.split("\n")

    headings = _markdown_headings(lines)
    markdown = bool(headings) or bool(re.search(r"^\s{0,3}(?:[-*+]\s|```|>\s)", text, re.M))
    if not headings:
        first_title, first_index = _first_line_title(lines)
        body_lines = list(lines)
        if first_title is not None and first_index is not None:
            body_lines[first_index] = ""
        headings = _plain_headings(body_lines)
        if headings:
            title, sections = _split_by_headings(
                body_lines, headings, markdown, find_title=first_title is None
            )
            title = first_title or title
        else:
            title = first_title
            sections = [_Section(None, _reflow(_blocks(body_lines), markdown))]
    else:
        title, sections = _split_by_headings(lines, headings, markdown)

    sections = [section for section in sections if section.blocks]
    if not sections:
        # Only headings: keep them as the content of one section.
        sections = [_Section(None, [plain])]
    if len(sections) == 1 and sections[0].heading is None:
        sections = _group_paragraphs(sections[0].blocks)

    strong, weak = _ranked_terms(plain, limit=20)
    terms = strong + weak
    if not title:
        title = _keyword_title(strong or weak, plain)
    title = _clip(title, 200)
    _name_sections(sections, title)
    sections = _fit_sections(sections)
    visuals = _add_visuals(sections, terms, _count_words(plain))
    return {
        "title": title,
        "structure": [
            {"heading": _clip(section.heading or "Overview", 200), "content": "\n\n".join(section.blocks)}
            for section in sections
        ],
        "visualOpportunities": visuals,
    }


# --------------------------------------------------------------------------- #
# Quiz and flashcards
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Sentence:
    text: str
    paragraph: int


def _sentence_list(plain: str) -> list[_Sentence]:
    return [
        _Sentence(sentence, number)
        for number, paragraph in enumerate(plain.split("\n\n"))
        for sentence in split_sentences(paragraph)
    ]


def _is_definition(sentence: str, term: str) -> bool:
    """Does the sentence define the term ("X is ...", "..., called X", "X, a ...")?"""
    escaped = r"[^\S\n]+".join(re.escape(word) for word in term.split())
    patterns = (
        rf"^(?:(?:the|a|an)\s+)?{escaped}(?![\w-])(?:\s*\([^)]*\))?,?\s+(?:is|are|was|were|refers? to|"
        r"means?|describes?|(?:is|are) (?:called|known as|defined as))\b",
        rf"(?<![\w-]){escaped},\s+(?:a|an)\s",
        rf"\b(?:called|known as|termed|named|defined as)\s+(?:(?:the|a|an)\s+)?{escaped}(?![\w-])",
    )
    return any(re.search(pattern, sentence, re.IGNORECASE) for pattern in patterns)


def _with_context(sentences: list[_Sentence], index: int, limit: int) -> str:
    """The sentence, preceded by the one before it when it starts with "This",
    "It"... and so needs it to make sense."""
    sentence = sentences[index]
    if (
        index > 0
        and _DANGLING_START_RE.match(sentence.text)
        and sentences[index - 1].paragraph == sentence.paragraph
    ):
        joined = f"{sentences[index - 1].text} {sentence.text}"
        if len(joined) <= limit:
            return joined
    return sentence.text


def _reserve_definitions(terms: list[str], sentences: list[_Sentence]) -> dict[int, str]:
    """The first sentence that defines each term is kept for that term."""
    reserved: dict[int, str] = {}
    for term in terms:
        for index, sentence in enumerate(sentences):
            if (
                index not in reserved
                and _contains_term(sentence.text, term)
                and _is_definition(sentence.text, term)
            ):
                reserved[index] = term
                break
    return reserved


def _pick_sentence(
    term: str, sentences: list[_Sentence], used: set[int], reserved: dict[int, str], strict: bool
) -> int | None:
    holding = [index for index, sentence in enumerate(sentences) if _contains_term(sentence.text, term)]
    if strict:
        holding = [
            index
            for index in holding
            if index not in used
            and reserved.get(index, term) == term
            and _is_prose_sentence(sentences[index].text)
            and not _META_RE.search(sentences[index].text)
        ]
    else:
        holding = [index for index in holding if _count_words(sentences[index].text) >= 3]
    defining = [index for index in holding if _is_definition(sentences[index].text, term)]
    candidates = defining or holding
    return candidates[0] if candidates else None


@lru_cache(maxsize=1024)
def _inflected_pattern(term: str) -> re.Pattern[str]:
    """The term, with its last word in singular or plural."""
    words = [re.escape(word) for word in term.split()]
    last = term.split()[-1]
    if len(last) > 4 and last.casefold().endswith("ies"):
        words[-1] = re.escape(last[:-3]) + "(?:y|ies)"
    elif len(last) > 3 and last.casefold().endswith("s") and not last.casefold().endswith(("ss", "us", "is")):
        words[-1] = re.escape(last[:-1]) + "(?:s|es)?"
    elif last[-1:].isalpha():
        words[-1] = words[-1] + "(?:s|es)?"
    return re.compile(r"(?<![\w-])" + r"[^\S\n]+".join(words) + r"(?![\w-])", re.IGNORECASE)


def _blank(sentence: str, term: str) -> str:
    blanked = _inflected_pattern(term).sub("____", sentence)
    if len(blanked) <= _MAX_QUESTION_SENTENCE_CHARS:
        return blanked
    # Keep a window of words around the first blank.
    words = blanked.split()
    position = next((index for index, word in enumerate(words) if "____" in word), 0)
    start = max(0, position - 25)
    window = words[start : start + 50]
    clipped = " ".join(window)
    if start > 0:
        clipped = "\u2026 " + clipped
    if start + 50 < len(words):
        clipped += " \u2026"
    return _clip(clipped, _MAX_QUESTION_SENTENCE_CHARS)


def _related(term_a: str, term_b: str) -> bool:
    key_a, key_b = _term_key(term_a), _term_key(term_b)
    return key_a == key_b or f" {key_a} " in f" {key_b} " or f" {key_b} " in f" {key_a} "


def _shares_word(term_a: str, term_b: str) -> bool:
    return bool(set(_term_key(term_a).split()) & set(_term_key(term_b).split()))


def _distractors(answer: str, blanked: str, pool: list[str], rotation: int, wanted: int = 3) -> list[str]:
    """Other key terms of the text: preferably absent from the question and
    sharing no word with the answer; never a variant of the answer."""
    others = [term for term in pool if not _related(term, answer)]
    if others:
        shift = rotation % len(others)
        others = others[shift:] + others[:shift]
    picked: list[str] = []
    tiers = (
        lambda term: not _contains_term(blanked, term) and not _shares_word(term, answer),
        lambda term: not _contains_term(blanked, term),
        lambda _term: True,
    )
    for accept in tiers:
        for term in others:
            if len(picked) >= wanted:
                return picked
            if any(_related(term, other) for other in picked) or not accept(term):
                continue
            picked.append(term)
    return picked


def _question_text(index: int, blanked: str, definition: bool) -> str:
    quoted = f"\u201c{blanked}\u201d"
    if definition and index % 2 == 0:
        return f"Which term is described here? {quoted}"
    if index % 2 == 0:
        return f"Which term completes the sentence? {quoted}"
    return f"Fill in the blank: {quoted}"


def _quiz_target(words: int) -> int:
    if words >= 120:
        return min(10, max(5, words // 80))
    return max(1, min(5, words // 20))


def build_quiz(markdown: str) -> dict:
    """The quiz JSON object for a note's Markdown."""
    plain = markdown_to_plain(markdown)
    words = _count_words(plain)
    sentences = _sentence_list(plain)
    strong, weak = _ranked_terms(plain, limit=40)
    terms = strong + weak
    if words < 4 or len(terms) < 2:
        raise ProviderError("text too short for a quiz", transient=False, provider=NAME)
    pool = strong if len(strong) >= 6 else terms
    target = _quiz_target(words)
    seed = _stable_int(plain[:2000])
    reserved = _reserve_definitions(strong, sentences)
    questions: list[dict] = []
    used_sentences: set[int] = set()
    asked: list[str] = []
    for group, strict in ((strong, True), (weak, True), (strong, False), (weak, False)):
        for term in group:
            if len(questions) >= target:
                break
            if any(_related(term, other) for other in asked):
                continue
            index = _pick_sentence(term, sentences, used_sentences, reserved, strict)
            if index is None:
                continue
            sentence = _with_context(sentences, index, _MAX_QUESTION_SENTENCE_CHARS)
            blanked = _blank(sentence, term)
            if "____" not in blanked:
                continue
            number = len(questions)
            distractors = _distractors(term, blanked, pool if len(pool) > 1 else terms, number * 2 + 1)
            if not distractors:
                distractors = _distractors(term, blanked, terms, number * 2 + 1)
            if not distractors:
                continue
            position = (number + seed) % (len(distractors) + 1)
            options = list(distractors)
            options.insert(position, term)
            definition = _is_definition(sentences[index].text, term)
            questions.append(
                {
                    "question": _question_text(number, blanked, definition),
                    "options": options,
                    "answerIndex": position,
                    "explanation": _clip(f"The text says: \u201c{sentence}\u201d", 2000),
                }
            )
            used_sentences.add(index)
            asked.append(term)
    if not questions:
        raise ProviderError("text too short for a quiz", transient=False, provider=NAME)
    return {"questions": questions}


def _flashcard_target(words: int) -> int:
    if words >= 100:
        return min(15, max(5, words // 40))
    return max(1, min(5, words // 10))


def _defining_sentence(
    term: str, sentences: list[_Sentence], used: set[int], reserved: dict[int, str]
) -> int | None:
    holding = [index for index, sentence in enumerate(sentences) if _contains_term(sentence.text, term)]
    if not holding:
        return None

    def rank(index: int) -> tuple[bool, bool, bool, bool, bool, int]:
        text = sentences[index].text
        return (
            index in used,
            reserved.get(index, term) != term,
            not _is_prose_sentence(text) or _META_RE.search(text) is not None,
            not _is_definition(text, term),
            _count_words(text) < 3,
            index,
        )

    return min(holding, key=rank)


def build_flashcards(markdown: str) -> dict:
    """The flashcards JSON object for a note's Markdown."""
    plain = markdown_to_plain(markdown)
    words = _count_words(plain)
    sentences = _sentence_list(plain)
    strong, weak = _ranked_terms(plain, limit=40)
    target = _flashcard_target(words)
    cards: list[dict] = []
    fronts: set[str] = set()
    used: set[int] = set()
    reserved = _reserve_definitions(strong, sentences)
    for term in strong + weak:
        if len(cards) >= target:
            break
        front = _clip(_capitalize_first(term), 200)
        if front.casefold() in fronts:
            continue
        index = _defining_sentence(term, sentences, used, reserved)
        if index is None:
            continue
        back = _with_context(sentences, index, _MAX_BACK_CHARS)
        if _squash(back).casefold() == term.casefold():
            continue
        cards.append({"front": front, "back": _clip(back, _MAX_BACK_CHARS)})
        fronts.add(front.casefold())
        used.add(index)
    if not cards:
        raise ProviderError("text too short for flashcards", transient=False, provider=NAME)
    return {"flashcards": cards}
