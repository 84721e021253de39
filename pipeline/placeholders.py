"""`[VISUAL::description]` placeholders: finding them, naming them, replacing them."""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

PLACEHOLDER_RE = re.compile(r"\[VISUAL::([^\]\n]{1,500})\]")


def normalize_description(description: str) -> str:
    return " ".join(description.split()).strip(" .,:;!?").casefold()


def placeholder_id(description: str) -> str:
    """A stable id for a placeholder: the same description, however spaced or
    cased, names the same visual."""
    return hashlib.sha256(normalize_description(description).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Placeholder:
    placeholder_id: str
    description: str


def find_placeholders(markdown: str) -> list[Placeholder]:
    """The unique placeholders of a text, in order of first appearance."""
    seen: dict[str, Placeholder] = {}
    for match in PLACEHOLDER_RE.finditer(markdown):
        description = " ".join(match.group(1).split())
        if not description:
            continue
        pid = placeholder_id(description)
        seen.setdefault(pid, Placeholder(pid, description))
    return list(seen.values())


def replace_placeholders(markdown: str, replacement: Callable[[str, str], str]) -> str:
    """Replace every placeholder by `replacement(placeholder_id, description)`."""

    def substitute(match: re.Match) -> str:
        description = " ".join(match.group(1).split())
        return replacement(placeholder_id(description), description)

    return PLACEHOLDER_RE.sub(substitute, markdown)


# "VISUAL" followed by "::", in any case: the core of a marker, wherever it is.
_MARKER_CORE_RE = re.compile(r"VISUAL::", re.IGNORECASE)


def neutralize_markers(text: str) -> str:
    """The text with every ``[VISUAL::`` of its own made inert, so that only
    the AI's placeholders become visuals.

    One pass is enough, and it is linear: each ``VISUAL::`` becomes
    ``VISUAL: :``, and no new ``VISUAL::`` can form, because the only
    characters added sit after a ``VISUAL:`` (removing text, as a filter of
    ``[VISUAL::...]`` would, lets nested markers such as
    ``[VIS[VISUAL::]UAL::x]`` close up into new ones).
    """
    return _MARKER_CORE_RE.sub(lambda match: f"{match.group(0)[:-1]} :", text)
