"""Writes on sources that the API and the admin share."""

from django.db import transaction

from pipeline import canvas
from pipeline.services import resume_stage, source_prepare_resume

from .models import Source


def source_start_pipeline(*, source: Source) -> None:
    """Enqueue the pipeline for a new source, after the transaction commits."""
    canvas.enqueue_pipeline(source)


@transaction.atomic
def source_retry(*, source_id: int) -> Source | None:
    """Rerun a FAILED or COMPLETED_WITH_ERRORS source from where it stopped,
    reusing what is done. None when it is not in a retryable state."""
    source = Source.objects.get(pk=source_id)
    stage = resume_stage(source)
    prepared = source_prepare_resume(source_id=source_id)
    if prepared is None:
        return None
    canvas.enqueue_pipeline(prepared, stage=stage)
    return prepared
