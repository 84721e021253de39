"""The admin: where people inspect sources and jobs, retry or stop a run.

Writes go through the services (retry, fail), never by editing statuses in a
form: the pipeline's fields are read-only here. No model holds a key, and
nothing here displays settings.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline import lifecycle
from pipeline.models import JobRecord

from .login_throttle import ThrottledAdminAuthenticationForm

ADMIN_FAIL_MESSAGE = "Marked failed by an administrator."

# Failed logins are limited per address and per username (api/login_throttle.py).
admin.site.login_form = ThrottledAdminAuthenticationForm


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class VisualInline(ReadOnlyInline):
    model = Visual
    fields = [
        "placeholder_id",
        "description",
        "search_query",
        "status",
        "provider",
        "image_url",
        "error_message",
    ]
    readonly_fields = fields


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "kind", "processing_status", "processing_stage", "created_at"]
    list_display_links = ["id", "title"]
    list_filter = ["processing_status", "processing_stage", "kind"]
    search_fields = ["title", "owner__username", "error_message"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [VisualInline]
    actions = ["retry_pipeline", "mark_failed"]
    fields = [
        "owner",
        "kind",
        "title",
        "url",
        "file",
        "original_filename",
        "processing_status",
        "processing_stage",
        "error_message",
        "progress_at",
        "resume_attempts",
        "ai_provider",
        "prompt_tokens",
        "completion_tokens",
        "lesson_structure_json",
        "input_text",
        "extracted_text",
        "created_at",
        "updated_at",
    ]
    # Only the title may be edited: the rest belongs to the pipeline.
    readonly_fields = [name for name in fields if name != "title"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A source starts its pipeline when created through the API; one
        # added here would sit in PENDING.
        return False

    @admin.action(description="Retry pipeline", permissions=["change"])
    def retry_pipeline(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        retried = skipped = 0
        for source_id in queryset.values_list("pk", flat=True):
            if lifecycle.source_retry(source_id=source_id) is None:
                skipped += 1
            else:
                retried += 1
        self.message_user(request, f"Retried {retried} source(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} source(s): only FAILED or COMPLETED_WITH_ERRORS sources can be retried.",
                messages.WARNING,
            )

    @admin.action(description="Mark failed", permissions=["change"])
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        # Each keeps its stage: it says where the run was stopped.
        stopped = lifecycle.fail_by_admin(
            source_ids=list(queryset.values_list("pk", flat=True)), message=ADMIN_FAIL_MESSAGE
        )
        self.message_user(request, f"Marked {stopped} source(s) failed.", messages.SUCCESS)
        skipped = queryset.count() - stopped
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} source(s) that were not running.",
                messages.WARNING,
            )


class QuizQuestionInline(admin.TabularInline):
    model = QuizQuestion
    extra = 0
    fields = ["position", "question", "options", "answer_index", "explanation"]


class FlashcardInline(admin.TabularInline):
    model = Flashcard
    extra = 0
    fields = ["position", "front", "back"]


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "source", "created_at"]
    list_select_related = ["owner", "source"]
    search_fields = ["title", "owner__username"]
    ordering = ["-created_at", "-id"]
    readonly_fields = ["source", "owner", "created_at", "updated_at"]
    inlines = [QuizQuestionInline, FlashcardInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # notes are assembled by the pipeline


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    """Read-only: the rows are facts written by the workers."""

    list_display = [
        "id",
        "job_type",
        "state",
        "source_link",
        "item_id",
        "attempt",
        "worker",
        "started_at",
        "finished_at",
        "duration_ms",
    ]
    list_filter = ["job_type", "state"]
    search_fields = ["task_id", "error", "worker"]
    list_select_related = ["source"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="source", ordering="source")
    def source_link(self, obj: JobRecord) -> str:
        if obj.source_id is None:
            return "-"
        url = reverse("admin:notes_source_change", args=[obj.source_id])
        return format_html('<a href="{}">{}</a>', url, obj.source)
