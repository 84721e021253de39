"""The pipeline's own records: one row per task execution."""

from django.db import models

from notes.models import Source


class JobRecord(models.Model):
    """One row per execution of a pipeline task, written from Celery signals."""

    class JobType(models.TextChoices):
        EXTRACT_SOURCE_TEXT = "EXTRACT_SOURCE_TEXT"
        PROCESS_SOURCE_TEXT = "PROCESS_SOURCE_TEXT"
        PROCESS_VISUAL_PLACEHOLDERS = "PROCESS_VISUAL_PLACEHOLDERS"
        GENERATE_VISUAL = "GENERATE_VISUAL"
        ASSEMBLE_NOTE = "ASSEMBLE_NOTE"
        GENERATE_STUDY_TOOLS = "GENERATE_STUDY_TOOLS"
        RESUME_SOURCE = "RESUME_SOURCE"
        WATCHDOG = "WATCHDOG"

    class State(models.TextChoices):
        STARTED = "STARTED"
        SUCCESS = "SUCCESS"
        RETRY = "RETRY"
        FAILURE = "FAILURE"
        IGNORED = "IGNORED"

    task_id = models.CharField(max_length=64, db_index=True)
    job_type = models.CharField(max_length=32, choices=JobType.choices)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, null=True, blank=True, related_name="jobs")
    visual_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTED)
    attempt = models.PositiveIntegerField(default=1)
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
        ]

    def __str__(self) -> str:
        return f"{self.job_type} {self.state} (attempt {self.attempt})"
