"""Hostile PDFs against the real child process: the harm is real (gigabytes,
minutes), so are the limits that stop it.

Each test builds its PDF without inflating it here, runs the extraction as
the worker does, and looks at the outcome from outside: the message a user
reads, this process's memory (sampled while the child works), the time
taken, the processes and files left behind.
"""

from __future__ import annotations

import io
import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import psutil
import pytest
from celery.exceptions import SoftTimeLimitExceeded

from pipeline.extractors.base import ExtractionError
from pipeline.extractors.pdf import PdfLimits, pdf_to_text
from tests.pdf_factory import flate_bomb, operator_runs, text_pdf

MB = 1024 * 1024
# What one 74 MB stream costs a process that inflates it (the stream and
# zlib's buffers): the growth this process must stay far below.
PARENT_GROWTH_BOUND = 48 * MB


@pytest.fixture(scope="module")
def bomb() -> bytes:
    pdf = flate_bomb(pages=40, inflated_bytes=74_000_000)
    assert len(pdf) < 3 * MB  # 40 x 74 MB from under 3 MB, as reported
    return pdf


@contextmanager
def peak_rss_growth():
    """Samples this process's resident memory while the block runs; yields
    a dict whose "growth" is set to the peak over the baseline."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    result = {"growth": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["growth"] = max(result["growth"], process.memory_info().rss - baseline)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result["growth"] = max(result["growth"], process.memory_info().rss - baseline)


def _reader_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "pipeline.extractors.pdf_reader" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _temporary_copies() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("studynaut-pdf-")}


def test_a_flate_bomb_fails_on_the_childs_memory_limit_and_this_process_stays_small(bomb):
    # No byte budget here: the child's address-space limit alone must stop it.
    limits = replace(
        PdfLimits.from_settings(), memory_bytes=160 * MB, max_decompressed_bytes=10**12, seconds=60
    )
    with peak_rss_growth() as memory, pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(bomb), limits=limits)
    assert raised.value.message.startswith("The PDF needs more memory than allowed (160 MB) to be read.")
    assert memory["growth"] < PARENT_GROWTH_BOUND
    assert not _reader_children()


def test_a_flate_bomb_is_stopped_by_the_decompressed_bytes_budget_before_memory_runs_out(bomb):
    limits = replace(
        PdfLimits.from_settings(), memory_bytes=1024 * MB, max_decompressed_bytes=100 * MB, seconds=60
    )
    with peak_rss_growth() as memory, pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(bomb), limits=limits)
    assert raised.value.message.startswith("The PDF's compressed content unpacks to more than 100 MB")
    assert memory["growth"] < PARENT_GROWTH_BOUND


def test_pages_of_operator_runs_end_on_the_token_budget_well_within_the_time_limit():
    pdf = operator_runs(pages=40, repeats=40_000)  # 400,000 tokens a page
    limits = replace(PdfLimits.from_settings(), max_content_tokens=1_000_000, seconds=120)
    started = time.monotonic()
    with pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(pdf), limits=limits)
    elapsed = time.monotonic() - started
    assert raised.value.message.startswith("The PDF's pages hold more than 1,000,000 drawing instructions")
    # The budget ended it (after about three pages), not the time limit.
    assert elapsed < limits.seconds / 2


def test_a_pdf_slower_than_the_time_limit_is_stopped_and_its_child_killed():
    pdf = operator_runs(pages=40, repeats=150_000)
    limits = replace(PdfLimits.from_settings(), max_content_tokens=10**12, seconds=1.5)
    before = _temporary_copies()
    started = time.monotonic()
    with pytest.raises(ExtractionError) as raised:
        pdf_to_text(io.BytesIO(pdf), limits=limits)
    elapsed = time.monotonic() - started
    assert raised.value.message.startswith("Reading the PDF took longer than 1.5 s and was stopped.")
    assert elapsed < 30  # killed at the limit, not left to run through 40 pages
    assert not _reader_children()
    assert _temporary_copies() <= before


def test_celerys_soft_time_limit_is_not_swallowed_and_stops_the_child():
    """Celery raises SoftTimeLimitExceeded from a signal handler in the
    middle of whatever the task does; here a timer does the same."""
    pdf = operator_runs(pages=40, repeats=150_000)
    limits = replace(PdfLimits.from_settings(), max_content_tokens=10**12, seconds=120)

    def soft_time_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, soft_time_limit)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(SoftTimeLimitExceeded):
            pdf_to_text(io.BytesIO(pdf), limits=limits)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 30
    assert not _reader_children()


def test_the_time_limit_ends_before_the_tasks_soft_time_limit(settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 3
    assert PdfLimits.from_settings().seconds < 3
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 270
    settings.PDF_EXTRACTION_TIME_LIMIT = 60
    assert PdfLimits.from_settings().seconds == 60


def test_an_ordinary_pdf_leaves_no_process_and_no_file_behind():
    before = _temporary_copies()
    extracted = pdf_to_text(io.BytesIO(text_pdf(["Ordinary lecture notes."])))
    assert extracted.text == "Ordinary lecture notes."
    assert not _reader_children()
    assert _temporary_copies() <= before
