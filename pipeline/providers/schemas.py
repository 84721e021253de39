"""The JSON objects the AI returns (SPEC section 4), validated with pydantic.

Extra keys are ignored so that any OpenAI-compatible server can stand in;
counts and lengths are bounded so a runaway answer cannot flood the note.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Section(_Lenient):
    heading: ShortText
    content: LongText


class VisualOpportunity(_Lenient):
    description: ShortText
    searchQuery: ShortText  # noqa: N815  (the wire name)


class LessonStructure(_Lenient):
    title: ShortText
    structure: list[Section] = Field(min_length=1, max_length=40)
    visualOpportunities: list[VisualOpportunity] = Field(default_factory=list, max_length=40)  # noqa: N815


class QuizQuestionSchema(_Lenient):
    question: ShortText
    options: list[ShortText] = Field(min_length=2, max_length=8)
    answerIndex: int = Field(ge=0)  # noqa: N815
    explanation: OptionalText = ""
    # A short passage of the source that supports the question (optional).
    quote: OptionalText = ""

    @model_validator(mode="after")
    def _check_options(self) -> "QuizQuestionSchema":
        if len({option.casefold() for option in self.options}) != len(self.options):
            raise ValueError("options must be distinct")
        if self.answerIndex >= len(self.options):
            raise ValueError("answerIndex is out of range")
        return self


class Quiz(_Lenient):
    questions: list[QuizQuestionSchema] = Field(min_length=1, max_length=50)


class FlashcardSchema(_Lenient):
    front: ShortText
    back: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
    # A short passage of the source that supports the card (optional).
    quote: OptionalText = ""


class Flashcards(_Lenient):
    flashcards: list[FlashcardSchema] = Field(min_length=1, max_length=100)


SCHEMAS: dict[str, type[BaseModel]] = {
    "lesson_structure": LessonStructure,
    "quiz": Quiz,
    "flashcards": Flashcards,
}
