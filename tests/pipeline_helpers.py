"""Running sources through the pipeline in tests."""

from django.db import transaction

from notes.models import Source
from pipeline.canvas import enqueue

from .conftest import wait_for, wait_for_job_records

FINAL = (Source.Status.COMPLETED, Source.Status.COMPLETED_WITH_ERRORS, Source.Status.FAILED)


def submit(owner, **fields) -> Source:
    with transaction.atomic():
        source = Source.objects.create(owner=owner, **fields)
        enqueue(source)
    return source


def wait_until_final(source: Source, *, timeout: float = 90) -> Source:
    def finished():
        source.refresh_from_db()
        return source.processing_status in FINAL and source

    wait_for(finished, timeout=timeout, message=f"source {source.pk} to finish")
    wait_for_job_records(source.pk)
    source.refresh_from_db()
    return source
