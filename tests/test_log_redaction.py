"""Keys are redacted from every log line, tracebacks and stacks included,
whatever handler prints them: the handlers of settings.LOGGING, library and
Django loggers, and a real Celery worker's own handlers."""

import io
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from studynaut.celery import app

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KEY = "sk-proj-LOGLEAK0123456789abcdefABCDEF"


@pytest.fixture
def openai_key(settings):
    settings.OPENAI_API_KEY = KEY
    return KEY


@pytest.fixture
def console_output():
    """What the console handler of settings.LOGGING writes."""
    handler = next(h for h in logging.getLogger("pipeline").handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def raise_with_the_key() -> None:
    try:
        raise ConnectionError(f"401 from the provider: Incorrect API key provided: {KEY}")
    except ConnectionError as exc:
        raise RuntimeError("the provider call failed") from exc


def test_a_traceback_whose_exception_carries_the_key_is_redacted(openai_key, console_output):
    try:
        raise_with_the_key()
    except RuntimeError:
        logging.getLogger("pipeline.test").exception("step failed")

    written = console_output.getvalue()
    assert "Traceback" in written
    assert "Incorrect API key provided: [redacted]" in written
    assert KEY not in written


def test_a_stack_is_redacted(openai_key, console_output):
    log = logging.getLogger("pipeline.test")
    # The stack shows each frame's line of source, this comment included:
    log.warning("where am I", stack_info=True)  # sk-proj-LOGLEAK0123456789abcdefABCDEF

    written = console_output.getvalue()
    assert "Stack (most recent call last)" in written
    assert KEY not in written


def test_the_exception_is_kept_for_handlers_that_want_it(openai_key):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        try:
            raise_with_the_key()
        except RuntimeError:
            logger.error("Internal Server Error: /admin/", exc_info=True)
    finally:
        logger.removeHandler(handler)

    (record,) = records
    assert record.exc_info[0] is RuntimeError
    assert KEY not in logging.Formatter().format(record)
    assert "[redacted]" in record.exc_text


def test_a_djangos_own_error_log_is_redacted_for_any_handler(openai_key):
    """django.request (an admin page's 500) keeps its own handlers: the filter
    sits on the logger, so a handler without it prints a clean traceback."""
    stream = io.StringIO()
    plain = logging.StreamHandler(stream)
    logger = logging.getLogger("django.request")
    logger.addHandler(plain)
    try:
        try:
            raise_with_the_key()
        except RuntimeError:
            logger.error("Internal Server Error: /admin/", exc_info=True)
    finally:
        logger.removeHandler(plain)

    assert "Incorrect API key provided: [redacted]" in stream.getvalue()
    assert KEY not in stream.getvalue()


# --- A real worker ----------------------------------------------------------------------------------


def test_a_celery_worker_prints_no_key_from_a_failing_task(tmp_path):
    queue = f"leak-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "studynaut.settings",
        "STUDYNAUT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_BROKER_URL,
        "OPENAI_API_KEY": KEY,
    }
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            [str(BIN / "celery"), "-A", "tests.leaky_worker_app", "worker", "-l", "INFO", "-Q", queue,
             "--concurrency", "1", "-n", f"{queue}@%h", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        app.send_task("tests.leak_the_key", queue=queue)
        deadline = time.monotonic() + 60
        while "upstream said" not in log.read_text(errors="replace"):
            assert worker.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        time.sleep(0.5)  # the lines that follow the failure
    finally:
        os.killpg(worker.pid, 9)
        worker.wait(timeout=30)

    written = log.read_text(errors="replace")
    assert KEY not in written, written
    for line in (
        "Incorrect API key provided: [redacted]",  # a pipeline logger's traceback
        "retrying with [redacted]",  # a celery logger
        "debug print of [redacted]",  # a print
        "upstream said: bad key [redacted]",  # Celery's failure report and traceback
    ):
        assert line in written, written
