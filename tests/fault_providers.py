"""Providers that fail the way real ones can take a worker down, for the
fault-injection suite. Chosen through settings like any provider
(``AI_PROVIDERS=tests.fault_providers.FaultAI``,
``IMAGE_PROVIDER=tests.fault_providers.FaultImages``); they wrap the real
provider (OpenAI or SerpAPI against the fake servers) and misbehave on the
calls FAULT_CALLS names (comma-separated: lesson_structure, quiz,
flashcards, images; ``call@MARKER`` only when the call's text holds MARKER,
so that sources of one run can misbehave at different steps), as FAULT_MODE
says:

- ``kill-worker``: SIGKILL the worker's whole process group (parent and
  pool children), like a crash of its container;
- ``kill-child``: only the pool process running the call dies (``os._exit``);
- ``hang``: never answer and ignore the soft time limit (its signal is
  blocked, like C code that never returns to Python), so only the hard time
  limit ends it;
- ``slow``: answer after FAULT_SLOW_SECONDS (a long but living step).

Every time, or only the first time across processes when FAULT_ONCE_FILE
names a file (created on the way). FAULT_AFTER seconds of "work" come first
(0.5): a pool process that dies within milliseconds of taking a job can die
before the pool has registered the job as its own.
"""

from __future__ import annotations

import os
import signal
import time

from pipeline.providers import registry


def _first_time() -> bool:
    once = os.environ.get("FAULT_ONCE_FILE")
    if not once:
        return True
    try:
        fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _targeted(call: str, text: str) -> bool:
    for entry in os.environ.get("FAULT_CALLS", "").split(","):
        name, _, marker = entry.strip().partition("@")
        if name == call and (not marker or marker in text):
            return True
    return False


def misbehave(call: str, text: str = "") -> None:
    if not _targeted(call, text) or not _first_time():
        return
    mode = os.environ.get("FAULT_MODE", "kill-worker")
    if mode == "slow":
        time.sleep(float(os.environ.get("FAULT_SLOW_SECONDS", "40")))
        return
    time.sleep(float(os.environ.get("FAULT_AFTER", "0.5")))
    if mode == "kill-child":
        os._exit(1)
    if mode == "hang":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # billiard's soft limit
        time.sleep(3600)
    os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(137)  # not reached


class FaultAI:
    name = "openai"

    def __init__(self) -> None:
        self._real = registry.make_ai_provider("openai")

    @property
    def max_input_chars(self) -> int | None:
        return getattr(self._real, "max_input_chars", None)

    def complete(self, call, text, *, language="", part=None):
        misbehave(call, text)
        return self._real.complete(call, text, language=language, part=part)


class FaultImages:
    name = "serpapi"

    def __init__(self) -> None:
        from pipeline.providers.serpapi_images import SerpAPIImageProvider

        self._real = SerpAPIImageProvider()

    def find_image(self, *, description, query, context=""):
        misbehave("images", f"{description}\n{query}\n{context}")
        return self._real.find_image(description=description, query=query, context=context)
