"""Two executions of one step at the same time (the watchdog resuming a step
that is slow rather than lost, or a redelivery while the first delivery
still runs) leave one set of rows and the right final state."""

import pytest

from notes.models import Flashcard, QuizQuestion
from pipeline.models import JobRecord

from ..conftest import wait_for
from .conftest import (
    assert_completed_like_a_clean_run,
    backends_waiting_for_a_lock,
    jobs,
    raw_connection,
    wait_until_final,
)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_two_generate_study_tools_at_once_leave_one_quiz_and_one_deck_and_a_completed_source(stack):
    """The test holds SHARE locks on the quiz and flashcard tables, so the
    first GENERATE_STUDY_TOOLS waits to write; the watchdog sees no progress
    and starts a second one, which waits too; then both write at once."""
    stack.env.update(
        {
            "CELERY_TASK_TIME_LIMIT": "12",
            "CELERY_TASK_SOFT_TIME_LIMIT": "10",
            "CELERY_VISIBILITY_TIMEOUT": "14",
            "PIPELINE_STUCK_AFTER": "2",
        }
    )
    lock = raw_connection()
    lock.execute(f"LOCK TABLE {QuizQuestion._meta.db_table}, {Flashcard._meta.db_table} IN SHARE MODE")
    try:
        stack.worker("w1", concurrency=3)
        stack.beat()
        api = stack.web().register()
        source_id = api.submit()
        wait_for(
            lambda: jobs(source_id, "GENERATE_STUDY_TOOLS").count() >= 2
            and backends_waiting_for_a_lock() >= 2,
            timeout=30,
            message="two GENERATE_STUDY_TOOLS waiting to write",
        )
    finally:
        lock.rollback()
        lock.close()

    wait_until_final(source_id, timeout=30)
    assert_completed_like_a_clean_run(source_id)
    # Every execution succeeded (none failed on the other's rows).
    executions = jobs(source_id, "GENERATE_STUDY_TOOLS")
    assert executions.count() >= 2
    assert set(executions.values_list("state", flat=True)) == {JobRecord.State.SUCCESS}
