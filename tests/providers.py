"""Providers for tests, chosen through settings like any other provider:
``AI_PROVIDERS = ["tests.providers.FakeAI"]``,
``IMAGE_PROVIDER = "tests.providers.FakeImages"``.

They stand in for a vendor, never for our own code: the registry, its retry
policy and the rate limit run as in production. Each answers from a queue
of scripted behaviours, else from a default, and records every call. Their
state lives on the class (the registry makes a fresh instance per call, and
an in-process worker calls from its threads); the ``fake_ai`` and
``fake_images`` fixtures reset it.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipeline.errors import ProviderError
from pipeline.providers.base import Completion


@dataclass
class Call:
    call: str
    text: str
    language: str = ""
    part: tuple[int, int] | None = None
    thread: int = field(default_factory=threading.get_ident)


def lesson_structure(title: str, visuals: int) -> dict:
    """A structure with one section per picture (one section without any)."""
    sections = [
        {
            "heading": f"Part {number}",
            "content": f"Some text about part {number}.\n\n[VISUAL::Picture number {number}]",
        }
        for number in range(visuals)
    ] or [{"heading": "Only part", "content": "Some text without pictures."}]
    return {
        "title": title,
        "structure": sections,
        "visualOpportunities": [
            {"description": f"Picture number {number}", "searchQuery": f"picture {number}"}
            for number in range(visuals)
        ],
    }


QUIZ = {
    "questions": [
        {"question": f"Question {n}?", "options": ["yes", "no", "maybe"], "answerIndex": 0, "explanation": ""}
        for n in range(6)
    ]
}
CARDS = {"flashcards": [{"front": f"Term {n}", "back": f"Definition {n}"} for n in range(10)]}


class FakeAI:
    """An AI provider whose answers a test scripts.

    ``answers[call]``: the JSON object for that call, or a function of the
    ``Call`` that returns it (default: a structure with ``visuals`` pictures,
    six questions, ten cards). ``script(call, *behaviours)`` queues
    behaviours that come first: a dict (answered as is), an exception
    (raised), or a function of the ``Call``. ``before_answer(call)`` runs
    before every answer (to synchronize with a test).
    """

    name = "fake"
    max_input_chars: ClassVar[int | None] = None
    visuals: ClassVar[int] = 2
    answers: ClassVar[dict[str, Any]] = {}
    calls: ClassVar[list[Call]] = []
    before_answer: ClassVar[Callable[[Call], None] | None] = None
    _queued: ClassVar[dict[str, deque]] = defaultdict(deque)
    _lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.max_input_chars = None
        cls.visuals = 2
        cls.answers = {}
        cls.calls = []
        cls.before_answer = None
        cls._queued = defaultdict(deque)

    @classmethod
    def script(cls, call: str, *behaviours: Any) -> None:
        with cls._lock:
            cls._queued[call].extend(behaviours)

    @classmethod
    def count(cls, call: str | None = None) -> int:
        return sum(1 for made in cls.calls if call is None or made.call == call)

    def complete(
        self, call: str, text: str, *, language: str = "", part: tuple[int, int] | None = None
    ) -> Completion:
        made = Call(call=call, text=text, language=language, part=part)
        with self._lock:
            type(self).calls.append(made)
            queued = self._queued[call]
            behaviour = queued.popleft() if queued else None
        if type(self).before_answer is not None:
            type(self).before_answer(made)
        if behaviour is None:
            behaviour = self.answers.get(call) or self._default(call)
        if isinstance(behaviour, BaseException):
            raise behaviour
        data = behaviour(made) if callable(behaviour) else behaviour
        return Completion(data=data, prompt_tokens=10, completion_tokens=5, language=language)

    def _default(self, call: str) -> Any:
        if call == "lesson_structure":
            return lambda made: lesson_structure(f"A lesson with {self.visuals} pictures", self.visuals)
        return {"quiz": QUIZ, "flashcards": CARDS}[call]


class FakeImages:
    """An image provider that finds an image for every description (or
    raises what a test scripted), and records the descriptions."""

    name = "fake-images"
    calls: ClassVar[list[str]] = []
    _queued: ClassVar[deque] = deque()
    _lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.calls = []
        cls._queued = deque()

    @classmethod
    def script(cls, *behaviours: Any) -> None:
        with cls._lock:
            cls._queued.extend(behaviours)

    def find_image(self, *, description: str, query: str, context: str = "") -> str:
        with self._lock:
            type(self).calls.append(description)
            behaviour = self._queued.popleft() if self._queued else None
        if isinstance(behaviour, BaseException):
            raise behaviour
        return behaviour or f"https://images.example/{len(type(self).calls)}.png"


def failing(message: str = "no image", *, transient: bool = False) -> ProviderError:
    return ProviderError(message, transient=transient, provider="fake")
