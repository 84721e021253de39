"""Cleaning what reaches the offline AI: caption noise and markers that are not ours.

Transcripts carry sound tags ("[MUSIC PLAYING]", "(LAUGHTER)", "♪ ... ♪"),
speaker labels ("DAVID MALAN:", "AUDIENCE:", ">>", "[Speaker 1]") and credit
or advertisement lines ("Captions by ...", "This course is brought to you by
..."). None of them is study material: they must never become a heading, a
quiz answer or a card. Code blocks are passed through untouched.

Every pattern here is linear: bounded repetitions or single character classes,
no nested quantifiers, no ``\\s`` spanning lines.
"""

from __future__ import annotations

import re
from collections import Counter

# Characters that are not text (control characters other than tab, newline and
# form feed), and the Unicode non-characters.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# "[VISUAL::" from the user's text is never taken for ours (SPEC 3): the whole
# marker, or its opening alone, becomes a space, which cannot join two halves.
VISUAL_MARKER_RE = re.compile(r"\[\s{0,20}VISUAL\s{0,20}::[^\[\]\n]{0,500}\]?", re.IGNORECASE)
_FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")

# Words of sound tags, in the languages of the quiz.
SOUND_WORDS = frozenset(
    [
        "music",
        "playing",
        "plays",
        "laughter",
        "laughing",
        "laughs",
        "laugh",
        "applause",
        "applauding",
        "clapping",
        "claps",
        "cheering",
        "cheers",
        "inaudible",
        "indistinct",
        "crosstalk",
        "silence",
        "silent",
        "noise",
        "noises",
        "coughs",
        "coughing",
        "sighs",
        "sighing",
        "background",
        "chatter",
        "chattering",
        "foreign",
        "language",
        "speaking",
        "speaks",
        "whispering",
        "whispers",
        "sound",
        "sounds",
        "bell",
        "rings",
        "ringing",
        "beep",
        "beeping",
        "static",
        "pause",
        "blank",
        "audio",
        "video",
        "intro",
        "outro",
        "theme",
        "upbeat",
        "dramatic",
        "instrumental",
        "singing",
        "sings",
        "sneezes",
        "groans",
        "gasps",
        "murmuring",
        "murmurs",
        "unintelligible",
        "speaker",
        "speakers",
        "narrator",
        "continues",
        "música",
        "musica",
        "risas",
        "risa",
        "aplausos",
        "aplauso",
        "ruido",
        "silencio",
        "inaudible",
        "tos",
        "suspiro",
        "musique",
        "rires",
        "rire",
        "applaudissements",
        "bruit",
        "toux",
        "soupir",
        "inaudible",
        "musik",
        "lachen",
        "gelächter",
        "applaus",
        "beifall",
        "geräusch",
        "husten",
        "unverständlich",
        "stille",
        "musica",
        "risate",
        "applausi",
        "rumore",
        "silenzio",
        "risos",
        "aplausos",
        "barulho",
    ]
)
# Words that name a speaker's role in a transcript ("AUDIENCE:", "Professor:").
ROLE_WORDS = frozenset(
    [
        "speaker",
        "lecturer",
        "professor",
        "prof",
        "teacher",
        "instructor",
        "student",
        "students",
        "audience",
        "crowd",
        "interviewer",
        "interviewee",
        "host",
        "narrator",
        "presenter",
        "moderator",
        "panelist",
        "participant",
        "man",
        "woman",
        "voice",
        "announcer",
        "question",
        "answer",
        "q",
        "a",
        "profesor",
        "profesora",
        "estudiante",
        "estudiantes",
        "alumno",
        "alumna",
        "alumnos",
        "público",
        "locutor",
        "narrador",
        "professeur",
        "étudiant",
        "étudiante",
        "étudiants",
        "public",
        "intervenant",
        "animateur",
        "narrateur",
        "dozent",
        "dozentin",
        "lehrer",
        "lehrerin",
        "studentin",
        "publikum",
        "sprecher",
        "sprecherin",
        "moderator",
        "erzähler",
        "docente",
        "professore",
        "professoressa",
        "studente",
        "studentessa",
        "pubblico",
        "narratore",
        "aluno",
        "aluna",
        "plateia",
        "apresentador",
        "narrador",
    ]
)

_BRACKET_TAG_RE = re.compile(r"(?<![\w\]\\])\[([^\[\]\n]{1,60})\](?![(\[:])")
_PAREN_TAG_RE = re.compile(r"\(([^()\n]{1,40})\)")
_MUSIC_RE = re.compile(
    r"[\u266a\u266b\u266c\u2669]+(?:[^\u266a\u266b\u266c\u2669\n]{0,200}[\u266a\u266b\u266c\u2669]+)?"
)
_CHEVRONS_RE = re.compile(r"(?:^|(?<=\s))>>+(?=\s|$)|(?:^|(?<=\s))&gt;&gt;(?=\s|$)")
_TAG_WORD_RE = re.compile(r"[^\W\d_]+")

# "DAVID MALAN:" and "Professor Hale:" at the start of a line (after optional
# ">>" or "- "), and the same after a sentence's end inside a line.
_LABEL_AT_START_RE = re.compile(
    r"^[ \t]{0,8}(?:>>[ \t]{0,4}|-[ \t]{1,4})?([^\W\d_][\w .'\u2019-]{0,38}?)[ \t]{0,4}:(?=\s|$)"
)
_CAPS_LABEL_RE = re.compile(r"[A-Z\u00c0-\u00de][A-Z\u00c0-\u00de0-9 .'\u2019-]{0,38}")
_TITLE_LABEL_RE = re.compile(
    r"[A-Z\u00c0-\u00de][a-z\u00df-\u00ff]{1,20}"
    r"(?: [A-Z\u00c0-\u00de][a-z\u00df-\u00ff]{1,20}){0,2}(?: \d{1,2})?"
)

_CREDIT_PATTERNS = (
    # English
    r"\b(?:closed )?(?:captions?|captioning|subtitles?|subtitled|transcri(?:bed|ption)|translat(?:ed|ion))"
    r" (?:by|provided by|made by|courtesy of)\b",
    r"\bbrought to you by\b",
    r"\bsponsored by\b",
    r"\b(?:please |don't forget to )?(?:like and )?subscribe\b",
    r"\b(?:visit|go to|check out)(?: us)?(?: at| on)? (?:www\.|https?://|[\w-]{1,60}\.(?:com|org|net|io|example)\b)",
    r"\bsupport (?:us|this channel|the channel) on\b",
    r"\bpatreon\b",
    r"\ball rights reserved\b",
    r"\bcopyright\b.{0,40}\b(?:19|20)\d\d\b",
    r"\u00a9",
    r"\bamara\.org\b",
    # Spanish
    r"\bsubt[ií]tul(?:os|ado) (?:por|realizados por|de)\b",
    r"\bsuscr[ií]b(?:ete|anse)\b",
    r"\bpatrocinado por\b",
    r"\btodos los derechos reservados\b",
    # French
    r"\bsous-titr(?:es|age|é)s? (?:par|réalisés par)\b",
    r"\babonnez-vous\b",
    r"\bsponsoris[ée] par\b",
    r"\btous droits réservés\b",
    # German
    r"\buntertitel (?:von|im auftrag|der)\b",
    r"\babonnier(?:t|en sie)\b",
    r"\bgesponsert von\b",
    r"\balle rechte vorbehalten\b",
    # Italian and Portuguese
    r"\bsottotitoli (?:a cura di|di|creati)\b",
    r"\biscriviti\b",
    r"\blegendas? (?:por|de)\b",
    r"\binscreva-se\b",
)
_CREDIT_RE = re.compile("|".join(f"(?:{pattern})" for pattern in _CREDIT_PATTERNS), re.IGNORECASE)
# Sentences of a line: pieces that end with . ! ? and the spaces after them.
_SENTENCE_PIECE_RE = re.compile(r"[^.!?\n]*(?:[.!?]+[\"'\u201d\u2019)\]]*|$)[ \t]*")


def normalize(text: str) -> str:
    """One newline style, no control characters, no ``[VISUAL::`` markers."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\ufeff", "")
    text = _CONTROL_RE.sub("", text)
    return VISUAL_MARKER_RE.sub(" ", text)


def _is_sound_tag(inside: str, *, bracket: bool) -> bool:
    words = _TAG_WORD_RE.findall(inside)
    stripped = inside.strip()
    if stripped in ("__", "_", "\u2026", "...") or (bracket and not words and "_" in stripped):
        return True  # "[ __ ]": a word the captioner masked
    if not words or len(words) > 6 or any(char.isdigit() for char in stripped if not bracket):
        return False
    lowered = [word.casefold() for word in words]
    if all(word in SOUND_WORDS or word in ROLE_WORDS for word in lowered):
        return True
    letters = "".join(words)
    if len(letters) >= 3 and letters.isupper():
        return True  # "[APPLAUSE]", "(LAUGHS)", "[DOOR CLOSES]"
    return bracket and lowered[0] in SOUND_WORDS


def strip_sound_tags(line: str) -> str:
    line = _MUSIC_RE.sub(" ", line)
    line = _BRACKET_TAG_RE.sub(
        lambda match: " " if _is_sound_tag(match.group(1), bracket=True) else match.group(0), line
    )
    return _PAREN_TAG_RE.sub(
        lambda match: " " if _is_sound_tag(match.group(1), bracket=False) else match.group(0), line
    )


def _label_at_start(line: str) -> str | None:
    """The label ("DAVID MALAN") if the line starts like a speaker's turn."""
    match = _LABEL_AT_START_RE.match(line)
    if not match:
        return None
    label = match.group(1).strip()
    if _CAPS_LABEL_RE.fullmatch(label) or _TITLE_LABEL_RE.fullmatch(label):
        return label
    return None


def find_speaker_labels(lines: list[str]) -> set[str]:
    """Labels that open speakers' turns: capitals of two words or more ("DAVID
    MALAN"), a role ("AUDIENCE", "Professor"), or any capitalised label that
    opens three lines or more."""
    counts: Counter[str] = Counter()
    for line in lines:
        label = _label_at_start(line)
        if label:
            counts[label] += 1
    labels = set()
    for label, count in counts.items():
        words = label.replace(".", " ").split()
        role = words[0].casefold() in ROLE_WORDS
        caps = label.upper() == label and any(char.isalpha() for char in label)
        if role or (caps and (len(words) >= 2 or count >= 2)) or count >= 3:
            labels.add(label)
    return labels


# A label after a sentence's end inside a line ("... weeks. >> AUDIENCE: Why?").
_MID_LINE_LABEL_RE = re.compile(
    r"(?<=[.!?\"\u201d\u2026]) {1,4}(?:>> ?)?([A-Z\u00c0-\u00de][\w .'\u2019-]{0,38}?) ?:(?=\s|$)"
)


def _is_label(label: str, labels: set[str]) -> bool:
    if label in labels:
        return True
    words = label.split()
    caps = label.upper() == label
    return caps and (words[0].casefold() in ROLE_WORDS or len(words) >= 2)


def strip_speaker_labels(line: str, labels: set[str]) -> str:
    label = _label_at_start(line)
    if label and label in labels:
        line = line[_LABEL_AT_START_RE.match(line).end() :]
    line = _MID_LINE_LABEL_RE.sub(
        lambda match: " " if _is_label(match.group(1).strip(), labels) else match.group(0), line
    )
    return _CHEVRONS_RE.sub(" ", line)


def strip_credits(line: str) -> str:
    """The line without its credit or advertisement sentences."""
    if not _CREDIT_RE.search(line):
        return line
    kept = [piece for piece in _SENTENCE_PIECE_RE.findall(line) if piece and not _CREDIT_RE.search(piece)]
    return "".join(kept)


def is_noise_line(line: str) -> bool:
    """A line that is only a sound tag, a label or a credit (kept empty)."""
    return not line.strip()


def clean_source(text: str) -> str:
    """The text without caption noise, credit lines and foreign placeholders.

    Lines inside fenced code blocks are kept as they are. A line that held only
    noise becomes empty (a paragraph break), like a pause.
    """
    lines = normalize(text).split("\n")
    labels = find_speaker_labels(lines)
    cleaned: list[str] = []
    fence: str | None = None
    for line in lines:
        opening = _FENCE_RE.match(line)
        if fence is not None:
            cleaned.append(line)
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            cleaned.append(line)
            continue
        if line.startswith(("    ", "\t")):
            cleaned.append(line)  # maybe code: the block parser decides, so leave it whole
            continue
        had_text = bool(line.strip())
        line = strip_speaker_labels(strip_sound_tags(line), labels)
        line = strip_credits(line)
        if had_text and not line.strip():
            cleaned.append("")
            continue
        cleaned.append(line.rstrip() if line.strip() else "")
    return "\n".join(cleaned)
