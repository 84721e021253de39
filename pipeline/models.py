"""The pipeline's own records: one row per task execution."""

from django.db import models

from notes.models import Source

from . import steps


class JobRecord(models.Model):
    """One row per execution of a pipeline task, written by the task class
    (pipeline.tasks.PipelineTask): what ran, where, how long, and how it
    ended. This is how people inspect jobs (the admin lists them), and how
    the pipeline counts retries and executions lost with their worker."""

    class State(models.TextChoices):
        STARTED = "STARTED"
        SUCCESS = "SUCCESS"
        # A transient failure: the task comes back after a delay.
        RETRY = "RETRY"
        # Our own rate limit had no room: the task comes back when it has.
        WAITING = "WAITING"
        FAILURE = "FAILURE"
        IGNORED = "IGNORED"
        # Its worker stopped proving it is alive while it ran (pipeline.liveness).
        LOST = "LOST"

    task_id = models.CharField(max_length=64, db_index=True)
    job_type = models.CharField(max_length=32, choices=steps.JOB_TYPES)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, null=True, blank=True, related_name="jobs")
    # The visual or text chunk of an item step.
    item_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTED)
    attempt = models.PositiveIntegerField(default=1)
    # "host:pid" of the process that ran it (pipeline.liveness.worker_identity).
    worker = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["source", "started_at"], name="job_source_started_idx"),
            models.Index(fields=["job_type", "state"], name="job_type_state_idx"),
            models.Index(fields=["state", "started_at"], name="job_state_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_type} {self.state} (attempt {self.attempt})"
