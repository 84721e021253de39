"""Hostile PDFs uploaded to the real stack (gunicorn, a prefork Celery
worker, Redis, PostgreSQL): the source ends FAILED with a reason a user can
read, in the extraction stage, and the worker's processes are left as small
as they were. Before, a PDF bomb left a pool process at 3 GB and a page of
operator runs held the source in PROCESSING until the hard time limit."""

import psutil
import pytest

from notes.models import Source

from ..pdf_factory import flate_bomb, operator_runs
from .conftest import SHORT_LIMITS, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
# A Celery pool process that ran pypdf itself on the bomb keeps gigabytes.
WORKER_RSS_BOUND = 400 * MB


def _upload_pdf(api, pdf: bytes) -> int:
    response = api._request(
        "POST", "/api/sources/", data={"kind": "PDF"}, files={"file": ("lecture.pdf", pdf, "application/pdf")}
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _worker_rss(worker) -> dict[int, int]:
    processes = [psutil.Process(worker.popen.pid), *psutil.Process(worker.popen.pid).children(recursive=True)]
    return {process.pid: process.memory_info().rss for process in processes if process.is_running()}


def test_a_pdf_bomb_fails_its_source_and_leaves_the_worker_small(stack):
    worker = stack.worker("w1", concurrency=1)
    api = stack.web().register()

    source = wait_until_final(_upload_pdf(api, flate_bomb()), timeout=60)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.EXTRACTING_TEXT
    assert source.error_message.startswith(("The PDF's compressed content unpacks", "Reading the PDF took"))
    rss = _worker_rss(worker)
    assert max(rss.values()) < WORKER_RSS_BOUND, rss
    assert api.source(source.pk)["error_message"] == source.error_message


def test_a_pdf_slower_than_the_soft_time_limit_fails_with_its_reason_not_stuck(stack):
    stack.env.update(SHORT_LIMITS)  # soft limit 3 s: the PDF reader gets 2 s
    stack.worker("w1", concurrency=1)
    api = stack.web().register()

    source = wait_until_final(_upload_pdf(api, operator_runs(pages=40, repeats=150_000)), timeout=60)

    assert source.processing_status == Source.Status.FAILED
    assert source.processing_stage == Source.Stage.EXTRACTING_TEXT
    assert source.error_message.startswith("Reading the PDF took longer than 2 s and was stopped.")
