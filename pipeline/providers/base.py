"""What every external (or offline) provider shares: one error type that
knows whether a failure is worth retrying, and the small interfaces."""

from dataclasses import dataclass
from typing import Literal, Protocol

AICall = Literal["lesson_structure", "quiz", "flashcards"]


class ProviderError(Exception):
    """A provider could not do its job.

    `transient` says whether the same call may succeed later (timeouts,
    connection errors, HTTP 429 and 5xx); `retry_after` carries a server's
    Retry-After in seconds. The message is shown to users: it never contains
    a key or a stack trace.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        provider: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.provider = provider

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}" if self.provider else self.message


class RateLimited(ProviderError):
    """Our own shared rate limit says: not now. Not a failure of the provider:
    the task reschedules itself (retry with a countdown) instead of failing
    or falling back."""

    def __init__(self, provider: str, retry_after: float) -> None:
        super().__init__("rate limit: try later", transient=True, retry_after=retry_after, provider=provider)


@dataclass(frozen=True)
class Completion:
    """One AI answer: the parsed JSON object and what it cost."""

    data: dict
    prompt_tokens: int = 0
    completion_tokens: int = 0


class AIProvider(Protocol):
    name: str

    def complete(self, call: AICall, text: str) -> Completion:
        """Answer one of the three calls with its JSON object (SPEC section 4).

        Raises ProviderError. The caller validates `data` against the schema.
        """


class ImageProvider(Protocol):
    name: str

    def find_image(self, *, description: str, query: str) -> str:
        """Return the http(s) URL of an image for the placeholder. Raises ProviderError."""
