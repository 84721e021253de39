"""Keys never show up in logs, errors, the API or the admin, even when the
providers' own error messages carry them."""

import logging
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from notes.models import Source, Visual
from pipeline.models import JobRecord

from .fakes import FakeOpenAI, FakeSerpAPI, error
from .pipeline_helpers import submit, wait_until_final

OPENAI_KEY = "sk-proj-LEAKCHECK0123456789abcdefABCDEF"
SERPAPI_KEY = "serpLEAKCHECK9876543210fedcba"
LECTURE = (Path(__file__).resolve().parent.parent / "samples" / "lecture.md").read_text()


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # includes any traceback text


@pytest.fixture
def all_logs():
    handler = Collect()
    loggers = [
        logging.getLogger(name) for name in ("", "pipeline", "notes", "celery", "openai", "httpx", "urllib3")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_keys_echoed_by_failing_providers_never_reach_logs_errors_or_the_api(
    celery_worker, user, settings, all_logs
):
    with FakeOpenAI() as openai, FakeSerpAPI() as serpapi:
        settings.AI_PROVIDERS = ["openai"]
        settings.OPENAI_API_KEY = OPENAI_KEY
        settings.OPENAI_BASE_URL = openai.base_url
        settings.IMAGE_PROVIDER = "serpapi"
        settings.SERPAPI_API_KEY = SERPAPI_KEY
        settings.SERPAPI_BASE_URL = serpapi.base_url
        # OpenAI echoes the key it refused; SerpAPI's client puts it in the URL.
        openai.script("quiz", [error(401, f"Incorrect API key provided: {OPENAI_KEY}.")])
        serpapi.fail_always("images", 500)

        source = wait_until_final(submit(user, kind=Source.Kind.TEXT, input_text=LECTURE))

    assert source.processing_status == Source.Status.COMPLETED_WITH_ERRORS
    assert any(request.query.get("api_key") == SERPAPI_KEY for request in serpapi.requests)
    client = APIClient()
    client.force_authenticate(user)
    stored = [
        source.error_message,
        *Visual.objects.values_list("error_message", flat=True),
        *JobRecord.objects.values_list("error", flat=True),
        client.get(f"/api/sources/{source.pk}/").content.decode(),
        client.get(f"/api/notes/{source.note.pk}/").content.decode(),
    ]
    for key in (OPENAI_KEY, SERPAPI_KEY):
        assert not [line for line in all_logs.lines if key in line]
        assert not [text for text in stored if key in text]
    assert all_logs.lines, "the handler saw the run's log lines"
