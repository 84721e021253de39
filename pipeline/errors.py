"""The pipeline's errors: one family for everything a step can fail with, and
one signal that is deliberately not part of it.

- ``PipelineError`` and its subclasses are failures of the work itself (a
  provider, an extraction). Each knows whether it is ``transient`` (the same
  call may succeed later: timeouts, connection errors, HTTP 429 and 5xx) and
  may carry a server's ``retry_after``. The message is shown to users, so it
  never contains a key or a stack trace.
- ``RateLimited`` is our own shared rate limit saying "not now". It is not a
  failure of anything and must never be handled as one: it does not derive
  from ``PipelineError`` (nor from ``Exception``'s usual catch-alls in our
  code), so an ``except PipelineError`` cannot swallow it by accident. The
  step's task reschedules itself when it sees one.
"""

from __future__ import annotations


class PipelineError(Exception):
    """A step's work failed. ``transient``: trying again later may help."""

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class ProviderError(PipelineError):
    """An AI, image or speech provider could not do its job."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        provider: str = "",
    ) -> None:
        super().__init__(message, transient=transient, retry_after=retry_after)
        self.provider = provider

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}" if self.provider else self.message


class ExtractionError(PipelineError):
    """The source's text could not be extracted."""


class RateLimited(BaseException):
    """Our own shared requests-per-minute limit for ``provider`` has no room
    for ``retry_after`` seconds. Only delays work, never fails it.

    A ``BaseException`` on purpose, like ``KeyboardInterrupt``: the broad
    ``except Exception`` that guards a provider call or a helper thread lets
    it through to the task, which reschedules itself.
    """

    def __init__(self, provider: str, retry_after: float) -> None:
        super().__init__(f"{provider}: shared rate limit reached; try again in {retry_after:.1f} s")
        self.provider = provider
        self.retry_after = retry_after
