"""Writes on sources that the API, the admin and the command line share."""

import logging

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from notes.models import Source

from . import canvas
from .services import source_prepare_resume

logger = logging.getLogger(__name__)


def source_start_pipeline(*, source: Source) -> None:
    """Enqueue the pipeline for a new source, after the transaction commits."""
    canvas.enqueue_pipeline(source)


@transaction.atomic
def source_retry(*, source_id: int) -> Source | None:
    """Rerun a FAILED or COMPLETED_WITH_ERRORS source from where it stopped,
    reusing what is done. None when it is not in a retryable state."""
    prepared = source_prepare_resume(source_id=source_id)
    if prepared is None:
        return None
    # The prepared source stands in the stage it resumes from.
    canvas.enqueue_pipeline(prepared, stage=prepared.processing_stage)
    return prepared


@transaction.atomic
def source_create(
    *,
    owner,
    kind: str,
    title: str = "",
    text: str = "",
    url: str = "",
    upload: UploadedFile | None = None,
    original_filename: str = "",
) -> Source:
    """Create a source and enqueue its pipeline, in one transaction: the task
    is sent only once the row is committed."""
    source = Source(owner=owner, kind=kind, title=title, input_text=text, url=url)
    if upload is not None:
        source.original_filename = original_filename
        # The stored name comes from source_upload_path (random), not from
        # the client's file name.
        source.file.save(upload.name or "upload", upload, save=False)
    try:
        source.save()
        source_start_pipeline(source=source)
    except BaseException:
        if source.file:
            source.file.delete(save=False)
        raise
    logger.info("source %s created (%s) by user %s", source.pk, kind, owner.pk)
    return source


def source_delete(*, source: Source) -> None:
    """Delete a source with its visuals, note, quiz and cards; its uploaded
    file goes once the deletion is committed (a rollback keeps both)."""
    source_id, file_name, storage = source.pk, source.file.name, source.file.storage
    with transaction.atomic():
        source.delete()
        if file_name:

            def delete_upload() -> None:
                # A named function: Django logs a failed robust hook by its
                # __qualname__, which a partial does not have.
                storage.delete(file_name)

            transaction.on_commit(delete_upload, robust=True)
    logger.info("source %s deleted", source_id)
