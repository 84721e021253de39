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
