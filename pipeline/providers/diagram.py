"""Generated pictures: a small concept map of a note section's key terms, or
a card with the placeholder's description when there is nothing to map.

``concept_map(description, context)`` finds up to MAX_TERMS key terms of the
context (frequent words and word groups that are not stopwords, in whatever
language the context is written: the labels are the source's own words)
and links two terms when they appear in the same sentence, labelled with the
few words between them ("chloroplasts -capture-> light energy").
``render_svg(spec)`` lays the map out deterministically, the most connected
term in the middle and the others around it, and checks that no two boxes
overlap. The picture says "Generated diagram" on it; the description is its
accessible title.

Everything the SVG shows is escaped: descriptions and contexts come from
users and from the AI. Every pattern here runs in linear time.
"""

from __future__ import annotations

import hashlib
import math
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 800, 450
MAX_DESCRIPTION_CHARS = 300
MAX_TERMS = 7
MIN_TERMS = 2
# Below this many terms, words said only once may fill the map.
SINGLETONS_UNTIL = 3
MAX_EDGES = 10
MAX_TERM_CHARS = 40
MAX_LABEL_WORDS = 3
MAX_LABEL_CHARS = 24
# The context a map is made from: a note section, cut at this length.
MAX_CONTEXT_CHARS = 20_000
DIAGRAM_LABEL = "Generated diagram"
CARD_LABEL = "Generated illustration (offline)"

# Calm, readable backgrounds (with white text) and a lighter accent for each.
_PALETTE = (
    ("#1f4e79", "#2e75b6"),
    ("#245c4f", "#3a8f7a"),
    ("#5b3a7a", "#8256a8"),
    ("#7a3b2e", "#b35a44"),
    ("#2f4858", "#4c7389"),
    ("#6a4c16", "#a07324"),
    ("#3b4a6b", "#5d72a3"),
    ("#1e5f74", "#2f8fab"),
)
FONT = "Helvetica, Arial, sans-serif"
# Characters XML 1.0 does not allow (they would make the SVG invalid).
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WORD_RE = re.compile(r"\w+(?:['\u2019\-]\w+)*")
# A run of stops counts from its first character only (the lookbehind): else
# each dot of "......x" would rescan the rest of the run.
_SENTENCE_END_RE = re.compile(r"(?<![.!?;:\u3002\uff01\uff1f])[.!?;:\u3002\uff01\uff1f]+(?=\s|$)|\n")
_PLACEHOLDER_RE = re.compile(r"\[VISUAL::[^\]\n]{0,500}\]")
_LINK_TARGET_RE = re.compile(r"\]\([^()\s]{0,2000}\)")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words of the languages a lecture is most often in. A term never
# starts or ends with one; the labels between terms may contain them.
STOPWORDS = _word_set(
    """
    a an the and or but nor so yet if then than that this these those there here of to in on at by for
    from with without into onto over under about above below between through during before after again
    further once is are was were be been being am do does did doing have has had having can could may
    might must shall should will would it its it's they them their theirs we us our ours you your yours
    he him his she her hers i me my mine who whom whose which what when where why how all any both each
    few more most other some such no not only own same too very just also as up down out off because
    while until against among per via one two three first second new many much well like use used using
    let lets get gets got make makes made way ways thing things called call calls
    el la los las un una unos unas y o pero si no que de del al en con por para sin sobre entre es son
    fue fueron ser está están estar como más menos muy también se su sus lo le les este esta estos estas
    ese esa esos esas hay cuando donde porque cada otro otra otros otras ya
    le la les un une des et ou mais si ne pas que qui de du au aux en dans avec par pour sans sur entre
    est sont était être a ont avoir comme plus moins très aussi se sa son ses ce cet cette ces il elle
    ils elles on nous vous leur leurs quand où parce chaque autre autres
    der die das den dem des ein eine einer eines einem einen und oder aber wenn nicht dass von zu im in
    mit für ohne auf über unter zwischen ist sind war waren sein hat haben wie mehr weniger sehr auch
    sich es er sie wir ihr ihre dieser diese dieses wird werden kann können bei aus nach vor als um
    il lo la i gli le un uno una e o ma se non che di del della dei delle da in con per senza su tra è
    sono era essere ha hanno come più meno molto anche si suo sua suoi sue questo questa questi queste
    o a os as um uma uns umas e ou mas se não que de do da dos das em no na nos nas com por para sem
    sobre entre é são foi ser estar como mais menos muito também seu sua seus suas este esta isto
    de het een en of maar als niet dat van te in op met voor zonder over onder tussen is zijn was waren
    heeft hebben hoe meer minder zeer ook zich ze wij jullie hun deze dit die wordt worden kan kunnen
    """
)


@dataclass(frozen=True)
class DiagramSpec:
    """What a generated picture shows: a description and, for a concept
    map, its terms and the links between them (indexes into ``terms`` and a
    label, maybe empty). Small: it travels signed inside the image's URL."""

    description: str
    terms: tuple[str, ...] = ()
    edges: tuple[tuple[int, int, str], ...] = field(default_factory=tuple)

    @property
    def is_map(self) -> bool:
        return len(self.terms) >= MIN_TERMS

    def to_payload(self) -> dict:
        payload: dict = {"d": self.description}
        if self.terms:
            payload["t"] = list(self.terms)
        if self.edges:
            payload["e"] = [list(edge) for edge in self.edges]
        return payload

    @classmethod
    def from_payload(cls, payload: object) -> DiagramSpec | None:
        """The spec of a payload, or None for one no ``concept_map`` makes."""
        if not isinstance(payload, dict) or not isinstance(payload.get("d"), str):
            return None
        terms = payload.get("t", [])
        edges = payload.get("e", [])
        if not isinstance(terms, list) or not isinstance(edges, list):
            return None
        if len(payload["d"]) > MAX_DESCRIPTION_CHARS or len(terms) > MAX_TERMS or len(edges) > MAX_EDGES:
            return None
        if not all(isinstance(term, str) and 0 < len(term) <= MAX_TERM_CHARS for term in terms):
            return None
        checked: list[tuple[int, int, str]] = []
        for edge in edges:
            if not (isinstance(edge, list) and len(edge) == 3):
                return None
            first, second, label = edge
            valid_indexes = all(isinstance(i, int) and 0 <= i < len(terms) for i in (first, second))
            if not valid_indexes or first == second or not isinstance(label, str):
                return None
            if len(label) > MAX_LABEL_CHARS:
                return None
            checked.append((first, second, label))
        return cls(payload["d"], tuple(terms), tuple(checked))


# --- key terms -----------------------------------------------------------------


@dataclass
class _Candidate:
    key: tuple[str, ...]
    count: int = 0
    first: int = 0
    forms: Counter[str] = field(default_factory=Counter)


def clean_text(text: str) -> str:
    """Text without XML-invalid characters, collapsed to single spaces."""
    return " ".join(_XML_INVALID_RE.sub(" ", text).split())


def _plain(context: str) -> str:
    """The words of a Markdown section: placeholders, link targets and
    emphasis marks go; line breaks stay (they end sentences)."""
    context = _PLACEHOLDER_RE.sub(" ", context[:MAX_CONTEXT_CHARS])
    context = _LINK_TARGET_RE.sub("] ", context)
    return _XML_INVALID_RE.sub(" ", context).translate(str.maketrans("*_`#>|[]", "        "))


def _sentences(text: str) -> list[str]:
    sentences, start = [], 0
    for match in _SENTENCE_END_RE.finditer(text):
        sentences.append(text[start : match.start()])
        start = match.end()
    sentences.append(text[start:])
    return [sentence for sentence in sentences if sentence.strip()]


def _is_content_word(word: str, key: str) -> bool:
    if key in STOPWORDS or key.isdigit():
        return False
    letters = sum(1 for char in word if char.isalpha())
    # Short words carry meaning only as acronyms or formulas: "DNA", "CO2".
    return letters >= 3 or (letters >= 2 and word.upper() == word)


ARTICLES = _word_set(
    "the a an el la los las un una unos unas le les une des der die das den dem ein eine "
    "il lo gli i os as um uma het een"
)
# Words that join the parts of one term: "ciclo de Calvin", "Law of Mass".
CONNECTORS = _word_set("of de del des du di da do der van von")


def _tokens(sentence: str) -> list[tuple[str, str, int, int]]:
    """``(surface, key, start, end)`` of each word of a sentence."""
    return [
        (match.group(), match.group().casefold(), match.start(), match.end())
        for match in _WORD_RE.finditer(sentence)
    ]


def _is_term_run(run: list[tuple[str, str, int, int]]) -> bool:
    """Content words, or three words joined by a connector in the middle."""
    if all(_is_content_word(word, key) for word, key, _, _ in run):
        return True
    return (
        len(run) == 3
        and run[1][1] in CONNECTORS
        and _is_content_word(run[0][0], run[0][1])
        and _is_content_word(run[2][0], run[2][1])
    )


def _candidates(sentences: list[list[tuple[str, str, int, int]]], texts: list[str]) -> dict:
    """Runs of one to three adjacent words (only blanks between them) that
    make a term."""
    found: dict[tuple[str, ...], _Candidate] = {}
    position = 0
    for tokens, text in zip(sentences, texts, strict=True):
        for index in range(len(tokens)):
            for size in (1, 2, 3):
                run = tokens[index : index + size]
                if len(run) < size:
                    break
                if any(not text[a[3] : b[2]].isspace() for a, b in pairwise(run)):
                    break  # a comma or a dash between them: not one term
                if not _is_term_run(run):
                    continue
                key = tuple(token[1] for token in run)
                candidate = found.setdefault(key, _Candidate(key, first=position))
                candidate.count += 1
                candidate.forms[text[run[0][2] : run[-1][3]]] += 1
            position += 1
    return found


def _independent_counts(candidates: dict[tuple[str, ...], _Candidate]) -> dict[tuple[str, ...], int]:
    """How often each candidate occurs outside the recurring word groups
    that contain it: "light" in a text that only says "light energy" has 0."""
    enclosing: Counter[tuple[str, ...]] = Counter()
    for key, candidate in candidates.items():
        if len(key) < 2 or candidate.count < 2:
            continue
        for size in range(1, len(key)):
            for start in range(len(key) - size + 1):
                part = key[start : start + size]
                enclosing[part] = max(enclosing[part], candidate.count)
    return {key: candidate.count - enclosing[key] for key, candidate in candidates.items()}


def _score(candidate: _Candidate, independent: int, description_keys: set[str]) -> float:
    size = len(candidate.key)
    if independent <= 0 or (size > 1 and candidate.count < 2):
        return 0.0  # a word group counts once it recurs
    boost = 1.5 if any(key in description_keys for key in candidate.key) else 1.0
    return independent * (1 + 0.5 * (size - 1)) * boost


def key_terms(context: str, *, description: str = "", limit: int = MAX_TERMS) -> list[str]:
    """Up to ``limit`` key terms of ``context``, most important first, each
    in the form the text uses most."""
    texts = _sentences(_plain(context))
    tokenized = [_tokens(text) for text in texts]
    candidates = _candidates(tokenized, texts)
    description_keys = {key for _, key, _, _ in _tokens(description) if _is_content_word(key, key)}
    independent = _independent_counts(candidates)
    scores = {
        key: _score(candidate, independent[key], description_keys) for key, candidate in candidates.items()
    }
    ranked = sorted(
        (candidate for candidate in candidates.values() if scores[candidate.key] > 0),
        key=lambda candidate: (-scores[candidate.key], candidate.first),
    )
    chosen: list[_Candidate] = []
    for candidate in ranked:
        if len(chosen) == limit:
            break
        # A word said once is a term only if the picture is about it, or
        # when the text is too short to repeat anything.
        said_once = candidate.count < 2 and not (set(candidate.key) & description_keys)
        if said_once and len(chosen) >= SINGLETONS_UNTIL:
            continue
        # One term per idea: skip a word inside a chosen group and a group
        # around a chosen word that it does not outnumber.
        if any(_contains(other.key, candidate.key) for other in chosen):
            continue
        if any(_contains(candidate.key, other.key) for other in chosen):
            continue
        chosen.append(candidate)
    return [_surface(candidate) for candidate in chosen]


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    size = len(inner)
    return size <= len(outer) and any(outer[i : i + size] == inner for i in range(len(outer) - size + 1))


def _surface(candidate: _Candidate) -> str:
    form = max(candidate.forms.items(), key=lambda item: (item[1], -len(item[0])))[0]
    return " ".join(form.split())[:MAX_TERM_CHARS]


def _find(tokens: list[tuple[str, str, int, int]], key: tuple[str, ...]) -> int | None:
    size = len(key)
    for index in range(len(tokens) - size + 1):
        if tuple(token[1] for token in tokens[index : index + size]) == key:
            return index
    return None


Token = tuple[str, str, int, int]


def _trim_articles(tokens: list[Token]) -> list[Token]:
    """ "happens in the" -> "happens in": an article next to a term says
    nothing in a label."""
    while tokens and tokens[-1][1] in ARTICLES:
        tokens = tokens[:-1]
    while tokens and tokens[0][1] in ARTICLES:
        tokens = tokens[1:]
    return tokens


def _links(terms: list[str], context: str) -> list[tuple[int, int, str]]:
    """Pairs of terms that share a sentence, the most frequent first, each
    with the words between them when they are few."""
    keys = [tuple(key for _, key, _, _ in _tokens(term)) for term in terms]
    counts: Counter[tuple[int, int]] = Counter()
    labels: dict[tuple[int, int], Counter[str]] = {}
    first_seen: dict[tuple[int, int], int] = {}
    for number, text in enumerate(_sentences(_plain(context))):
        tokens = _tokens(text)
        places = {index: _find(tokens, key) for index, key in enumerate(keys)}
        present = sorted((place, index) for index, place in places.items() if place is not None)
        for a in range(len(present)):
            for b in range(a + 1, len(present)):
                (place_a, first), (place_b, second) = present[a], present[b]
                pair = (first, second)
                counts[pair] += 1
                first_seen.setdefault(pair, number)
                between = _trim_articles(tokens[place_a + len(keys[first]) : place_b])
                label = " ".join(token[0] for token in between)
                if 0 < len(between) <= MAX_LABEL_WORDS and len(label) <= MAX_LABEL_CHARS:
                    labels.setdefault(pair, Counter())[label] += 1
    ordered = sorted(counts, key=lambda pair: (-counts[pair], first_seen[pair], pair))[:MAX_EDGES]
    edges = []
    for first, second in ordered:
        options = labels.get((first, second))
        label = max(options.items(), key=lambda item: (item[1], -len(item[0])))[0] if options else ""
        edges.append((first, second, label))
    return edges


def concept_map(description: str, context: str) -> DiagramSpec:
    """The concept map of ``context`` (a card spec when it has fewer than two
    key terms)."""
    description = clean_text(description)[:MAX_DESCRIPTION_CHARS]
    terms = key_terms(context, description=description)
    if len(terms) < MIN_TERMS:
        return DiagramSpec(description)
    return DiagramSpec(description, tuple(terms), tuple(_links(terms, context)))


# --- drawing -------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Box, margin: float = 4) -> bool:
        return not (
            self.x + self.width + margin <= other.x
            or other.x + other.width + margin <= self.x
            or self.y + self.height + margin <= other.y
            or other.y + other.height + margin <= self.y
        )

    def inside(self, width: float, height: float) -> bool:
        return self.x >= 0 and self.y >= 0 and self.x + self.width <= width and self.y + self.height <= height

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


NODE_FONT = 16
EDGE_FONT = 12
_CHAR_WIDTH = 0.6  # of the font size, for Helvetica-like fonts (generous)
_NODE_PADDING = 14
_NODE_HEIGHT = 36
_MAP_CENTER = (WIDTH / 2, 250)
_RADII = (285, 118)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip(" ,;:.-") + "\u2026"


def _text_width(text: str, size: float) -> float:
    return len(text) * size * _CHAR_WIDTH


def _node_box(label: str, center: tuple[float, float]) -> Box:
    width = _text_width(label, NODE_FONT) + 2 * _NODE_PADDING
    return Box(center[0] - width / 2, center[1] - _NODE_HEIGHT / 2, width, _NODE_HEIGHT)


def _hub(spec: DiagramSpec) -> int:
    degree = Counter()
    for first, second, _ in spec.edges:
        degree[first] += 1
        degree[second] += 1
    return max(range(len(spec.terms)), key=lambda index: (degree[index], -index))


@dataclass(frozen=True)
class Layout:
    labels: tuple[str, ...]
    boxes: tuple[Box, ...]
    edge_labels: tuple[tuple[int, str, Box], ...]  # (edge index, text, box)


def layout(spec: DiagramSpec) -> Layout:
    """Places the terms (the hub in the middle, the others on an ellipse,
    clockwise from the top in order of importance) with labels short enough
    that no boxes overlap, then the edge labels that fit without overlap."""
    hub = _hub(spec)
    others = [index for index in range(len(spec.terms)) if index != hub]
    for limit in (22, 18, 14, 10):
        labels = [_shorten(term, limit) for term in spec.terms]
        centers: dict[int, tuple[float, float]] = {hub: _MAP_CENTER}
        for position, index in enumerate(others):
            angle = -math.pi / 2 + 2 * math.pi * position / len(others)
            centers[index] = (
                _MAP_CENTER[0] + _RADII[0] * math.cos(angle),
                _MAP_CENTER[1] + _RADII[1] * math.sin(angle),
            )
        boxes = [_node_box(labels[index], centers[index]) for index in range(len(spec.terms))]
        if _fits(boxes):
            break
    placed: list[Box] = list(boxes)
    edge_labels: list[tuple[int, str, Box]] = []
    for number, (first, second, label) in enumerate(spec.edges):
        if not label:
            continue
        (x1, y1), (x2, y2) = _clipped(boxes[first], boxes[second])
        width = _text_width(label, EDGE_FONT) + 8
        box = Box((x1 + x2) / 2 - width / 2, (y1 + y2) / 2 - 9, width, 18)
        if box.inside(WIDTH, HEIGHT) and not any(box.overlaps(other, margin=2) for other in placed):
            placed.append(box)
            edge_labels.append((number, label, box))
    return Layout(tuple(labels), tuple(boxes), tuple(edge_labels))


def _fits(boxes: list[Box]) -> bool:
    if not all(box.inside(WIDTH, HEIGHT) for box in boxes):
        return False
    return not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


_ARROW_LENGTH, _ARROW_HALF_WIDTH, _EDGE_GAP = 10.0, 5.0, 3.0


def _clipped(start: Box, end: Box) -> tuple[tuple[float, float], tuple[float, float]]:
    """The part of the line between two boxes' centres that lies outside
    both (so that an arrowhead at its end is seen)."""
    (x1, y1), (x2, y2) = start.center, end.center
    dx, dy = x2 - x1, y2 - y1

    def leave(box: Box) -> float:
        limits = []
        if dx:
            limits.append((box.width / 2 + _EDGE_GAP) / abs(dx))
        if dy:
            limits.append((box.height / 2 + _EDGE_GAP) / abs(dy))
        return min(limits, default=0.0)

    t_start, t_end = leave(start), leave(end)
    if t_start + t_end >= 1:
        return (x1, y1), (x2, y2)
    return (x1 + dx * t_start, y1 + dy * t_start), (x2 - dx * t_end, y2 - dy * t_end)


def _arrowhead(start: tuple[float, float], end: tuple[float, float]) -> str:
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    base = (end[0] - ux * _ARROW_LENGTH, end[1] - uy * _ARROW_LENGTH)
    left = (base[0] - uy * _ARROW_HALF_WIDTH, base[1] + ux * _ARROW_HALF_WIDTH)
    right = (base[0] + uy * _ARROW_HALF_WIDTH, base[1] - ux * _ARROW_HALF_WIDTH)
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in (end, left, right))


def _attribute(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _colours(text: str) -> tuple[bytes, str, str]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    background, accent = _PALETTE[digest[0] % len(_PALETTE)]
    return digest, background, accent


def _header(title: str, desc: str, background: str, accent: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title desc">\n'
        f'  <title id="title">{escape(title)}</title>\n'
        f'  <desc id="desc">{escape(desc)}</desc>\n'
        "  <defs>\n"
        '    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">\n'
        f'      <stop offset="0" stop-color="{background}"/>\n'
        f'      <stop offset="1" stop-color="{accent}"/>\n'
        "    </linearGradient>\n"
        "  </defs>\n"
        f'  <rect width="{WIDTH}" height="{HEIGHT}" fill="url(#bg)"/>\n'
    )


def _footer(label: str) -> str:
    return (
        f'  <text x="{WIDTH // 2}" y="{HEIGHT - 18}" font-family="{FONT}" font-size="14" fill="#ffffff" '
        f'fill-opacity="0.85" text-anchor="middle" letter-spacing="1">{escape(label)}</text>\n'
        "</svg>\n"
    )


def _card_lines(description: str) -> list[str]:
    max_lines, line_chars = 6, 34
    lines = textwrap.wrap(description, width=line_chars, break_long_words=True, break_on_hyphens=True)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        if len(last) > line_chars - 1:
            last = last[: line_chars - 1].rsplit(" ", 1)[0] or last[: line_chars - 1]
        lines[-1] = last.rstrip(" ,;:.-") + "\u2026"
    return lines or ["Illustration"]


def render_card(description: str) -> str:
    """A deterministic 800x450 card showing the description."""
    text = clean_text(description)[:MAX_DESCRIPTION_CHARS] or "Illustration"
    digest, background, accent = _colours(text)
    lines = _card_lines(text)
    font_size = 34 if len(lines) <= 3 else 28 if len(lines) <= 5 else 25
    line_height = round(font_size * 1.3)
    first_y = HEIGHT // 2 - (len(lines) - 1) * line_height // 2 + font_size // 3 - 10
    # Two soft circles whose places also depend on the text: a little variety.
    circle_a = (120 + digest[1] % 200, 60 + digest[2] % 80, 90 + digest[3] % 70)
    circle_b = (520 + digest[4] % 200, 300 + digest[5] % 90, 70 + digest[6] % 80)
    rows = "\n".join(
        f'    <tspan x="{WIDTH // 2}" y="{first_y + index * line_height}">{escape(line)}</tspan>'
        for index, line in enumerate(lines)
    )
    return (
        _header(text, f"{CARD_LABEL}: {text}", background, accent)
        + f'  <circle cx="{circle_a[0]}" cy="{circle_a[1]}" r="{circle_a[2]}" fill="#ffffff" '
        'fill-opacity="0.07"/>\n'
        f'  <circle cx="{circle_b[0]}" cy="{circle_b[1]}" r="{circle_b[2]}" fill="#ffffff" '
        'fill-opacity="0.06"/>\n'
        f'  <rect x="40" y="40" width="{WIDTH - 80}" height="{HEIGHT - 80}" rx="18" fill="none" '
        'stroke="#ffffff" stroke-opacity="0.35" stroke-width="2"/>\n'
        f'  <text font-family="{FONT}" font-size="{font_size}" fill="#ffffff" text-anchor="middle">\n'
        f"{rows}\n"
        "  </text>\n" + _footer(CARD_LABEL)
    )


def render_map(spec: DiagramSpec) -> str:
    """The concept map of ``spec`` as SVG: the description on top, the terms
    in boxes, links as lines with their labels, "Generated diagram" below."""
    description = clean_text(spec.description) or "Diagram"
    _, background, accent = _colours(description + "|" + "|".join(spec.terms))
    placed = layout(spec)
    hub = _hub(spec)
    parts = [
        _header(
            description,
            f"{DIAGRAM_LABEL} of the key terms: {', '.join(clean_text(term) for term in spec.terms)}.",
            background,
            accent,
        )
    ]
    caption = _shorten(description, 80)
    parts.append(
        f'  <text x="{WIDTH // 2}" y="44" font-family="{FONT}" font-size="20" fill="#ffffff" '
        f'text-anchor="middle">{escape(caption)}</text>\n'
    )
    for first, second, _ in spec.edges:
        (x1, y1), (x2, y2) = _clipped(placed.boxes[first], placed.boxes[second])
        parts.append(
            f'  <line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#ffffff" '
            'stroke-opacity="0.75" stroke-width="2"/>\n'
            f'  <polygon points="{_arrowhead((x1, y1), (x2, y2))}" fill="#ffffff" fill-opacity="0.85"/>\n'
        )
    for _, label, box in placed.edge_labels:
        parts.append(
            f'  <rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
            f'rx="4" fill="{background}" fill-opacity="0.85"/>\n'
            f'  <text x="{box.center[0]:.1f}" y="{box.y + 13:.1f}" font-family="{FONT}" '
            f'font-size="{EDGE_FONT}" fill="#ffffff" text-anchor="middle">{escape(label)}</text>\n'
        )
    for index, (label, box) in enumerate(zip(placed.labels, placed.boxes, strict=True)):
        fill, colour = ("#ffffff", background) if index == hub else ("#ffffff", accent)
        weight = ' font-weight="bold"' if index == hub else ""
        parts.append(
            f'  <rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
            f'rx="10" fill="{fill}" stroke="{colour}" stroke-width="3"/>\n'
            f'  <text x="{box.center[0]:.1f}" y="{box.y + 23:.1f}" font-family="{FONT}" '
            f'font-size="{NODE_FONT}" fill="{background}" text-anchor="middle"{weight}>'
            f"{escape(label)}</text>\n"
        )
    parts.append(_footer(DIAGRAM_LABEL))
    return "".join(parts)


def render_svg(spec: DiagramSpec | str) -> str:
    """The picture of a spec: its concept map, or a card with its
    description (a plain string is a description)."""
    if isinstance(spec, str):
        return render_card(spec)
    return render_map(spec) if spec.is_map else render_card(spec.description)
