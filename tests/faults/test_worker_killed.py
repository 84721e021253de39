"""A worker killed with SIGKILL (all its processes, like a crashed container)
in the middle of a step loses nothing: tasks are acknowledged late, so the
broker hands the unacknowledged message to a new worker once the visibility
timeout has passed, and every step is idempotent.

No watchdog runs in these tests: redelivery alone must finish the work.
"""

import pytest

from notes.models import Note, Visual
from pipeline.models import JobRecord

from ..conftest import wait_for
from ..fakes import delay
from .conftest import (
    CLEAN_VISUALS,
    assert_completed_like_a_clean_run,
    backends_waiting_for_a_lock,
    jobs,
    raw_connection,
    wait_until_final,
)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_worker_killed_during_generate_visual_completes_with_one_note_and_one_visual_per_placeholder(
    stack, serpapi_fake
):
    # Both image searches hang (until the worker is dead); later ones answer.
    serpapi_fake.script("images", [delay(30), delay(30)])
    worker = stack.worker("w1")
    api = stack.web().register()

    source_id = api.submit()
    wait_for(lambda: serpapi_fake.count("images") >= CLEAN_VISUALS, timeout=30, message="the searches")
    assert jobs(source_id, "GENERATE_VISUAL", JobRecord.State.STARTED).count() == CLEAN_VISUALS
    stack.kill(worker)
    stack.worker("w2")

    wait_until_final(source_id, timeout=60)
    assert_completed_like_a_clean_run(source_id)
    for visual in Visual.objects.filter(source_id=source_id):
        records = jobs(source_id, "GENERATE_VISUAL").filter(item_id=visual.pk)
        # The execution killed with the worker stays STARTED; its redelivery succeeded.
        assert records.filter(state=JobRecord.State.SUCCESS).count() == 1
        assert records.filter(state=JobRecord.State.STARTED).count() == 1
        assert len({record.task_id for record in records}) == 1  # the same message, redelivered
    assert jobs(source_id, "ASSEMBLE_NOTE", JobRecord.State.SUCCESS).count() == 1
    assert serpapi_fake.count("images") == 2 * CLEAN_VISUALS


def _hold_process_source_text(stack, openai_fake, source_id):
    wait_for(lambda: openai_fake.count("lesson_structure") >= 1, timeout=30, message="the AI call")


def _hold_generate_study_tools(stack, openai_fake, source_id):
    wait_for(lambda: openai_fake.count("quiz") >= 1, timeout=30, message="the AI call")


def _hold_assemble_note(stack, openai_fake, source_id):
    # ASSEMBLE_NOTE has locked the source row and waits for our table lock
    # to insert the note.
    wait_for(
        lambda: jobs(source_id, "ASSEMBLE_NOTE").exists() and backends_waiting_for_a_lock() >= 1,
        timeout=30,
        interval=0.05,
        message="ASSEMBLE_NOTE to wait for the lock",
    )


@pytest.mark.parametrize(
    ("job_type", "hold"),
    [
        ("PROCESS_SOURCE_TEXT", _hold_process_source_text),
        ("ASSEMBLE_NOTE", _hold_assemble_note),
        ("GENERATE_STUDY_TOOLS", _hold_generate_study_tools),
    ],
    ids=["PROCESS_SOURCE_TEXT", "ASSEMBLE_NOTE", "GENERATE_STUDY_TOOLS"],
)
def test_worker_killed_during_a_step_completes_like_a_clean_run_without_duplicates(
    stack, openai_fake, job_type, hold
):
    """The AI steps are held by a slow fake OpenAI. ASSEMBLE_NOTE is held by
    a database lock: the test takes SHARE on the notes table, which blocks the
    note's INSERT (and nothing before it) while the worker holds the source's
    row lock inside note_assemble's transaction. (A lock on the source row
    itself would stop every GENERATE_VISUAL first: each one touches the row.)"""
    lock = None
    if job_type == "PROCESS_SOURCE_TEXT":
        openai_fake.script("lesson_structure", [delay(30)])
    elif job_type == "GENERATE_STUDY_TOOLS":
        openai_fake.script("quiz", [delay(30)])
    else:
        lock = raw_connection()
        lock.execute(f"LOCK TABLE {Note._meta.db_table} IN SHARE MODE")
    try:
        worker = stack.worker("w1")
        api = stack.web().register()
        source_id = api.submit()
        hold(stack, openai_fake, source_id)
        assert jobs(source_id, job_type, JobRecord.State.STARTED).count() == 1
        stack.kill(worker)
    finally:
        if lock is not None:
            # The killed worker's transaction is rolled back: no note from it.
            lock.rollback()
            lock.close()
    assert not Note.objects.filter(source_id=source_id).exists() or job_type == "GENERATE_STUDY_TOOLS"
    stack.worker("w2")

    wait_until_final(source_id, timeout=60)
    assert_completed_like_a_clean_run(source_id)
    records = jobs(source_id, job_type)
    assert records.filter(state=JobRecord.State.SUCCESS).count() == 1
    assert records.filter(state=JobRecord.State.STARTED).count() == 1  # the killed execution
    task_ids = {record.task_id for record in records}
    if job_type == "ASSEMBLE_NOTE" and len(task_ids) == 2:
        # The kill can also catch PROCESS_VISUAL_PLACEHOLDERS between applying
        # its chord and acknowledging its message (its bookkeeping waits for
        # the source row that ASSEMBLE_NOTE holds). Its redelivery fans out
        # again: the visuals are final, so the new chord's ASSEMBLE_NOTE makes
        # the one note, and nothing else runs twice.
        assert jobs(source_id, "PROCESS_VISUAL_PLACEHOLDERS").values("task_id").distinct().count() == 1
        assert jobs(source_id, "PROCESS_VISUAL_PLACEHOLDERS").count() == 2
    else:
        assert len(task_ids) == 1  # redelivered, not restarted
    for other in ("PROCESS_SOURCE_TEXT", "ASSEMBLE_NOTE", "GENERATE_STUDY_TOOLS"):
        assert jobs(source_id, other, JobRecord.State.SUCCESS).count() == 1


def test_worker_dying_after_a_visual_result_is_stored_but_not_acknowledged_never_assembles_early(
    stack, serpapi_fake, tmp_path
):
    """The worker dies in task_postrun of the first GENERATE_VISUAL to finish:
    its result is stored and counted by the chord, its message is not
    acknowledged, so it is delivered again, while the other visual is still
    being searched. The duplicate must neither fire ASSEMBLE_NOTE before the
    other visual is final nor create any row twice."""
    # The first search answers once the second is in flight; the second hangs
    # until the worker dies, and its redelivery takes a while: the duplicate
    # of the first one arrives meanwhile.
    serpapi_fake.script("images", [delay(1.5), delay(30), delay(2)])
    worker = stack.worker(
        "w1",
        FAULT_DIE_AFTER="pipeline.generate_visual",
        FAULT_ONCE_FILE=str(tmp_path / "died-once"),
    )
    api = stack.web().register()

    source_id = api.submit()
    wait_for(lambda: not worker.alive, timeout=30, message="the worker to die after a visual")
    stack.kill(worker)  # whatever is left of it
    assert serpapi_fake.count("images") == 2
    done = Visual.objects.filter(source_id=source_id, status=Visual.Status.COMPLETED)
    assert done.count() == 1
    first = done.get()
    stack.worker("w2")

    wait_until_final(source_id, timeout=60)
    source = assert_completed_like_a_clean_run(source_id)
    note = Note.objects.get(source_id=source_id)
    visuals = list(Visual.objects.filter(source_id=source_id))
    # Assembled from final visuals only: after the last one was done, no fallback.
    assert note.created_at >= max(visual.updated_at for visual in visuals)
    assert "Illustration unavailable" not in note.markdown_content
    # The first visual ran twice (the stored result and its redelivery), the
    # other one once more after its lost execution; the note was made once.
    first_runs = jobs(source_id, "GENERATE_VISUAL").filter(item_id=first.pk)
    assert first_runs.filter(state=JobRecord.State.SUCCESS).count() == 2
    assert len({record.task_id for record in first_runs}) == 1
    assemble = jobs(source_id, "ASSEMBLE_NOTE")
    assert assemble.filter(state=JobRecord.State.SUCCESS).count() == 1
    assert set(assemble.values_list("state", flat=True)) <= {JobRecord.State.SUCCESS, JobRecord.State.RETRY}
    assert source.resume_attempts == 0
