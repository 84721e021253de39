"""PostgreSQL connections dropped under a running task (pg_terminate_backend,
on our own test database only): the task retries on a new connection, and a
transaction cut in the middle leaves nothing behind (no half-written note)."""

import pytest

from notes.models import Note
from pipeline.models import JobRecord

from ..conftest import wait_for
from ..fakes import delay
from .conftest import (
    WORKER_DB_APP,
    assert_completed_like_a_clean_run,
    backends_waiting_for_a_lock,
    jobs,
    raw_connection,
    terminate_backends,
    wait_until_final,
)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_connections_dropped_during_a_slow_ai_call_retry_the_step_and_complete_without_duplicates(
    stack, openai_fake
):
    openai_fake.script("quiz", [delay(2)])
    stack.worker("w1")
    api = stack.web().register()

    source_id = api.submit()
    wait_for(lambda: openai_fake.count("quiz") >= 1, timeout=30, message="the quiz call")
    assert terminate_backends(application_name=WORKER_DB_APP) >= 1

    wait_until_final(source_id, timeout=40)
    assert_completed_like_a_clean_run(source_id)
    records = jobs(source_id, "GENERATE_STUDY_TOOLS")
    # The first execution is recorded as retried (not as lost: that would
    # count towards the poison-message limit), the retry succeeded.
    assert sorted(records.values_list("state", flat=True)) == [JobRecord.State.RETRY, JobRecord.State.SUCCESS]
    assert "OperationalError" in records.get(state=JobRecord.State.RETRY).error
    assert openai_fake.count("quiz") == 2


def test_connection_dropped_inside_the_note_transaction_leaves_no_half_written_note_and_the_retry_completes(
    stack,
):
    """ASSEMBLE_NOTE is held inside its transaction (source row locked, the
    note's INSERT waiting for our SHARE lock on the notes table) when its
    connection is terminated."""
    lock = raw_connection()
    lock.execute(f"LOCK TABLE {Note._meta.db_table} IN SHARE MODE")
    try:
        stack.worker("w1")
        api = stack.web().register()
        source_id = api.submit()
        wait_for(lambda: backends_waiting_for_a_lock() >= 1, timeout=30, message="ASSEMBLE_NOTE to wait")
        assert terminate_backends(application_name=WORKER_DB_APP, waiting_only=True) == 1
        # The task retries, and waits for the lock again.
        wait_for(
            lambda: jobs(source_id, "ASSEMBLE_NOTE", JobRecord.State.RETRY).exists()
            and backends_waiting_for_a_lock() >= 1,
            timeout=30,
            message="ASSEMBLE_NOTE to retry",
        )
        assert not Note.objects.filter(source_id=source_id).exists()
    finally:
        lock.rollback()
        lock.close()

    wait_until_final(source_id, timeout=40)
    assert_completed_like_a_clean_run(source_id)
    records = jobs(source_id, "ASSEMBLE_NOTE")
    assert sorted(records.values_list("state", flat=True)) == [JobRecord.State.RETRY, JobRecord.State.SUCCESS]
