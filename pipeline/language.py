"""Languages: ISO 639-1 codes, their names, and detecting a text's language.

(Placeholder until the language-aware local provider lands: detection is
not implemented here yet and answers "".)
"""

from __future__ import annotations

_NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
}


def detect_language(text: str) -> str:
    return ""


def is_language_code(code: str) -> bool:
    return code in _NAMES


def language_name(code: str) -> str:
    return _NAMES.get(code, code)
