"""The admin: pages load with DEBUG=0, actions go through the services,
job records are read-only, and lists do not run a query per row."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.admin import ADMIN_FAIL_MESSAGE
from notes.models import Source, Visual
from pipeline.models import JobRecord
from tests.api_fixtures import *  # noqa: F403
from tests.api_fixtures import make_note, make_source

pytestmark = pytest.mark.django_db

Status = Source.Status
Stage = Source.Stage


@pytest.fixture
def admin_client(client, settings):
    settings.DEBUG = False
    admin = get_user_model().objects.create_superuser(username="root", password="root-pass-phrase-9")
    client.force_login(admin)
    return client


def make_job(source, *, state=JobRecord.State.SUCCESS) -> JobRecord:
    started = timezone.now() - timedelta(seconds=2)
    return JobRecord.objects.create(
        task_id=uuid.uuid4().hex,
        job_type="GENERATE_VISUAL",
        source=source,
        state=state,
        attempt=1,
        worker="celery@host",
        started_at=started,
        finished_at=started + timedelta(milliseconds=1500),
        duration_ms=1500,
        error="timeout" if state == JobRecord.State.FAILURE else "",
    )


# --- Pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/notes/source/",
        "/admin/notes/source/?processing_status__exact=FAILED",
        "/admin/notes/source/?processing_stage__exact=ANALYZING_TEXT&kind__exact=TEXT",
        "/admin/notes/source/?q=ada",
        "/admin/notes/note/",
        "/admin/pipeline/jobrecord/",
        "/admin/pipeline/jobrecord/?job_type__exact=GENERATE_VISUAL&state__exact=FAILURE",
    ],
)
def test_admin_pages_load_with_debug_off(admin_client, user, path):
    source = make_source(user, visuals=[Visual.Status.COMPLETED, Visual.Status.FAILED])
    make_note(source)
    make_job(source)

    response = admin_client.get(path)

    assert response.status_code == 200


def test_the_change_pages_load_and_show_the_inlines(admin_client, user):
    source = make_source(user, visuals=[Visual.Status.FAILED])
    note = make_note(source)
    job = make_job(source, state=JobRecord.State.FAILURE)

    source_page = admin_client.get(f"/admin/notes/source/{source.pk}/change/")
    note_page = admin_client.get(f"/admin/notes/note/{note.pk}/change/")
    job_page = admin_client.get(f"/admin/pipeline/jobrecord/{job.pk}/change/")

    assert source_page.status_code == 200
    assert "no image found" in source_page.content.decode()  # the visual inline
    assert note_page.status_code == 200
    assert "What drives photosynthesis?" in note_page.content.decode()
    assert job_page.status_code == 200


def test_the_admin_css_is_served_with_debug_off(admin_client):
    response = admin_client.get("/static/admin/css/base.css")

    assert response.status_code == 200


def test_search_finds_sources_by_owner_title_and_error(admin_client, user, other_user):
    make_source(user, title="Mitochondria")
    make_source(other_user, title="Ribosomes", error_message="quota exceeded")

    def titles(query: str) -> set[str]:
        response = admin_client.get("/admin/notes/source/", {"q": query})
        return {source.title for source in response.context["cl"].result_list}

    assert titles("grace") == {"Ribosomes"}
    assert titles("Mitochondria") == {"Mitochondria"}
    assert titles("quota") == {"Ribosomes"}


def test_the_source_list_runs_the_same_number_of_queries_for_many_rows(admin_client, user, other_user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/admin/notes/source/").status_code == 200
        return len(captured)

    make_source(user)
    few = queries()
    for _ in range(5):
        make_source(other_user)

    assert queries() == few


def test_the_job_list_runs_the_same_number_of_queries_for_many_rows(admin_client, user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/admin/pipeline/jobrecord/").status_code == 200
        return len(captured)

    make_job(make_source(user))
    few = queries()
    for _ in range(5):
        make_job(make_source(user))

    assert queries() == few


def test_the_job_list_shows_duration_and_links_the_source(admin_client, user):
    source = make_source(user)
    make_job(source)

    html = admin_client.get("/admin/pipeline/jobrecord/").content.decode()

    assert "1500" in html
    assert f'href="/admin/notes/source/{source.pk}/change/"' in html


# --- Read-only job records -----------------------------------------------------------------


def test_job_records_cannot_be_added_changed_or_deleted(admin_client, user):
    job = make_job(make_source(user))

    assert admin_client.get("/admin/pipeline/jobrecord/add/").status_code == 403
    assert admin_client.get(f"/admin/pipeline/jobrecord/{job.pk}/delete/").status_code == 403
    response = admin_client.post(f"/admin/pipeline/jobrecord/{job.pk}/change/", {"state": "FAILURE"})
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.state == JobRecord.State.SUCCESS


def test_sources_are_not_added_in_the_admin(admin_client):
    assert admin_client.get("/admin/notes/source/add/").status_code == 403


# --- Actions -------------------------------------------------------------------------------


def test_retry_pipeline_reruns_failed_sources_and_skips_others(
    admin_client, user, django_capture_on_commit_callbacks
):
    failed = make_source(user, processing_status=Status.FAILED, processing_stage=Stage.ANALYZING_TEXT)
    completed = make_source(user, processing_status=Status.COMPLETED)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/admin/notes/source/",
            {"action": "retry_pipeline", "_selected_action": [failed.pk, completed.pk]},
            follow=True,
        )

    assert response.status_code == 200
    failed.refresh_from_db()
    completed.refresh_from_db()
    assert failed.processing_status == Status.PROCESSING
    assert completed.processing_status == Status.COMPLETED
    assert len(callbacks) == 1
    text = response.content.decode()
    assert "Retried 1 source(s)." in text
    assert "Skipped 1 source(s)" in text


def test_mark_failed_keeps_the_stage_and_says_who_stopped_it(admin_client, user):
    running = make_source(
        user, processing_status=Status.PROCESSING, processing_stage=Stage.GENERATING_VISUALS
    )
    completed = make_source(user, processing_status=Status.COMPLETED)

    response = admin_client.post(
        "/admin/notes/source/",
        {"action": "mark_failed", "_selected_action": [running.pk, completed.pk]},
        follow=True,
    )

    assert response.status_code == 200
    running.refresh_from_db()
    completed.refresh_from_db()
    assert running.processing_status == Status.FAILED
    assert running.processing_stage == Stage.GENERATING_VISUALS
    assert running.error_message == ADMIN_FAIL_MESSAGE == "Marked failed by an administrator."
    assert completed.processing_status == Status.COMPLETED
    assert "Marked 1 source(s) failed." in response.content.decode()


def test_the_admin_requires_staff(client, user):
    client.force_login(user)

    response = client.get("/admin/notes/source/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
