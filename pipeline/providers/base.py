"""The small interfaces every AI and image provider implements.

Errors come from ``pipeline.errors``: a provider raises ``ProviderError``
(transient or not); only the shared rate limit raises ``RateLimited``.
"""

from dataclasses import dataclass
from typing import Literal, Protocol

from pipeline.errors import ProviderError, RateLimited

__all__ = ["AICall", "AIProvider", "Completion", "ImageProvider", "ProviderError", "RateLimited"]

AICall = Literal["lesson_structure", "quiz", "flashcards"]


@dataclass(frozen=True)
class Completion:
    """One AI answer: the parsed JSON object, what it cost, and the language
    (ISO 639-1) it is written in when the provider knows it ("" otherwise)."""

    data: dict
    prompt_tokens: int = 0
    completion_tokens: int = 0
    language: str = ""


class AIProvider(Protocol):
    name: str

    def complete(
        self, call: AICall, text: str, *, language: str = "", part: tuple[int, int] | None = None
    ) -> Completion:
        """Answer one of the three calls with its JSON object (SPEC section 4),
        written in ``language`` (ISO 639-1; "" means the text's own language).
        ``part`` = (n, of): the text is part n of a longer one.

        Raises ProviderError. The caller validates ``data`` against the schema.
        A provider that takes a limited amount of text at once says so with a
        ``max_input_chars`` attribute.
        """


class ImageProvider(Protocol):
    name: str

    def find_image(self, *, description: str, query: str, context: str = "") -> str:
        """Return the http(s) URL of an image for the placeholder. ``context``
        is the text of the note's section around it (may be empty). Raises
        ProviderError."""
