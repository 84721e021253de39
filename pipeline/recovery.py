"""Work of lost workers starts again within a minute.

A periodic check (Celery beat, every RECOVERY_INTERVAL seconds) looks at
executions still STARTED for longer than WORKER_LOST_AFTER seconds whose
process stopped proving it is alive (pipeline/liveness.py). Each is marked
LOST, its item (a visual, a text chunk) is freed, and its source starts
again from the stage it stands in, through the same resume path as the
watchdog. The step counts its losses (pipeline/jobs.py), so a step that
kills its worker every time is given up after PIPELINE_MAX_ATTEMPTS.

The lost task's own message comes back later, when the broker's visibility
timeout passes; by then the step is done, and running it again changes
nothing (every step is idempotent and a source's stage never moves back).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from . import jobs, lifecycle, liveness, services, steps

logger = logging.getLogger(__name__)


def recover_lost_work(*, now=None) -> int:
    """Start again the steps of lost executions; returns how many sources."""
    now = now or timezone.now()
    candidates = jobs.started_before(now - timedelta(seconds=settings.WORKER_LOST_AFTER))
    if not candidates:
        return 0
    living = liveness.alive({record.worker for record in candidates})
    resumed: set[int] = set()
    for record in candidates:
        if record.worker in living or not jobs.mark_lost(record.pk):
            continue
        step = steps.STEPS_BY_JOB_TYPE.get(record.job_type)
        logger.warning(
            "%s of source %s was lost with its worker %s", record.job_type, record.source_id, record.worker
        )
        if step is None or record.source_id is None:
            continue  # a maintenance task: the next run does its work
        if step.item_model is not None and record.item_id is not None:
            services.item_release(model=step.item_model, item_id=record.item_id)
        if record.source_id not in resumed:
            resumed.add(record.source_id)
            lifecycle.resume(
                source_id=record.source_id,
                reason=f"the worker running {record.job_type} was lost",
                count_attempt=False,
            )
    return len(resumed)
