"""Studynaut's data: sources, their visuals, the note, its quiz and cards.

This app is the bottom layer: it imports neither the pipeline nor the API."""

import uuid

from django.conf import settings
from django.db import models


def source_upload_path(instance: "Source", filename: str) -> str:
    # The client's file name is never used as a path: only a random name and
    # a suffix chosen by us from the kind.
    suffix = {
        Source.Kind.PDF: ".pdf",
        Source.Kind.AUDIO: ".audio",
        Source.Kind.CAPTIONS: ".captions",
    }.get(instance.kind, ".bin")
    return f"uploads/{uuid.uuid4().hex}{suffix}"


class Source(models.Model):
    class Kind(models.TextChoices):
        TEXT = "TEXT"
        YOUTUBE = "YOUTUBE"
        PDF = "PDF"
        AUDIO = "AUDIO"
        CAPTIONS = "CAPTIONS"

    class Status(models.TextChoices):
        PENDING = "PENDING"
        PROCESSING = "PROCESSING"
        COMPLETED = "COMPLETED"
        COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
        FAILED = "FAILED"

    class Stage(models.TextChoices):
        EXTRACTING_TEXT = "EXTRACTING_TEXT"
        ANALYZING_TEXT = "ANALYZING_TEXT"
        PENDING_VISUAL_PROCESSING = "PENDING_VISUAL_PROCESSING"
        GENERATING_VISUALS = "GENERATING_VISUALS"
        ASSEMBLING_NOTE = "ASSEMBLING_NOTE"
        PENDING_STUDY_TOOLS = "PENDING_STUDY_TOOLS"
        GENERATING_STUDY_TOOLS = "GENERATING_STUDY_TOOLS"

    ACTIVE_STATUSES = (Status.PENDING, Status.PROCESSING)
    RETRYABLE_STATUSES = (Status.FAILED, Status.COMPLETED_WITH_ERRORS)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=255, blank=True)
    input_text = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to=source_upload_path, blank=True, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    extracted_text = models.TextField(blank=True)
    # The map from extracted_text back to the source (pipeline.extractors.base.Extracted):
    # {"anchors": [[offset, page, seconds], ...], "excluded": [[start, end], ...]}.
    text_map = models.JSONField(default=dict, blank=True)
    # ISO 639-1: asked for on create, else the source's own language once known.
    language = models.CharField(max_length=8, blank=True)

    processing_status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    # SPEC: the stage is null once finished (not "").
    processing_stage = models.CharField(max_length=32, choices=Stage.choices, null=True, blank=True)  # noqa: DJ001
    lesson_structure_json = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    # When the pipeline last made progress on this source; the watchdog
    # resumes sources whose progress is older than PIPELINE_STUCK_AFTER.
    progress_at = models.DateTimeField(null=True, blank=True)
    # How many times the watchdog (or a chord error) resumed this run.
    resume_attempts = models.PositiveIntegerField(default=0)
    # Until when the source waits for room under a provider's shared rate
    # limit, and which one (work is delayed, never failed, by our own limit).
    waiting_until = models.DateTimeField(null=True, blank=True)
    waiting_reason = models.CharField(max_length=120, blank=True)
    ai_provider = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="source_owner_created_idx"),
            models.Index(fields=["owner", "processing_status"], name="source_owner_status_idx"),
            models.Index(fields=["processing_status", "progress_at"], name="source_status_progress_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}: {self.title or '(untitled)'}"

    @property
    def needs_extraction(self) -> bool:
        return self.kind != self.Kind.TEXT


class Visual(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        PROCESSING = "PROCESSING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    FINAL_STATUSES = (Status.COMPLETED, Status.FAILED)

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="visuals")
    placeholder_id = models.CharField(max_length=32)
    position = models.PositiveIntegerField(default=0)
    description = models.TextField()
    search_query = models.CharField(max_length=500, blank=True)
    # The note's text around the placeholder (its section), for providers
    # that draw rather than search.
    context = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    image_url = models.URLField(max_length=2000, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "placeholder_id"], name="visual_unique_placeholder"),
        ]
        indexes = [models.Index(fields=["source", "status"], name="visual_source_status_idx")]

    def __str__(self) -> str:
        return f"Visual {self.placeholder_id} of source #{self.source_id}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class TextChunk(models.Model):
    """A part of a long text whose lesson structure is written on its own
    (PROCESS_SOURCE_TEXT fans out over the parts). Its answer is kept, so a
    retry, a resume or a redelivery pays only for the parts not answered."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        PROCESSING = "PROCESSING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    FINAL_STATUSES = (Status.COMPLETED, Status.FAILED)

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    answer = models.JSONField(null=True, blank=True)
    language = models.CharField(max_length=8, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["source", "index"], name="text_chunk_unique_index"),
        ]
        indexes = [models.Index(fields=["source", "status"], name="text_chunk_source_status_idx")]

    def __str__(self) -> str:
        return f"Part {self.index + 1} of source #{self.source_id}"


class AudioSegment(models.Model):
    """A part of a recording too long for one request to the transcription
    provider (EXTRACT_SOURCE_TEXT fans out over the parts). The part's audio
    is kept in storage until the transcript is joined; its transcript is
    kept, so a retry pays only for the parts not transcribed."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        PROCESSING = "PROCESSING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    FINAL_STATUSES = (Status.COMPLETED, Status.FAILED)

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="audio_segments")
    index = models.PositiveIntegerField()
    start_seconds = models.FloatField()
    # The part's audio in Django storage ("" once the transcript is joined).
    part = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # {"text": ..., "anchors": [[offset, page, seconds], ...]}
    transcript = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["source", "index"], name="audio_segment_unique_index"),
        ]

    def __str__(self) -> str:
        return f"Audio part {self.index + 1} of source #{self.source_id}"


class Note(models.Model):
    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="note")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=255)
    markdown_content = models.TextField()
    html_content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="note_owner_created_idx")]

    def __str__(self) -> str:
        return self.title


class QuizQuestion(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="quiz_questions")
    position = models.PositiveIntegerField()
    question = models.TextField()
    options = models.JSONField()
    answer_index = models.PositiveSmallIntegerField()
    explanation = models.TextField(blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["note", "position"], name="quiz_question_unique_position"),
        ]

    def __str__(self) -> str:
        return self.question[:80]


class Flashcard(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="flashcards")
    position = models.PositiveIntegerField()
    front = models.TextField()
    back = models.TextField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["note", "position"], name="flashcard_unique_position"),
        ]

    def __str__(self) -> str:
        return self.front[:80]
