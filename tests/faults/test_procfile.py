"""The product as the Procfile declares it: web, worker, beat and flower,
started the way a process manager starts them (a shell per line), configured
only by the settings of SPEC section 7, driven only over HTTP."""

import os

import pytest
import requests
from django.contrib.auth import get_user_model

from ..conftest import wait_for
from .conftest import BIN, LECTURE, ROOT, Api, free_port

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): command.strip()
        for name, command in (line.split(":", 1) for line in lines if ":" in line)
    }


def get(url: str, **kwargs) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5, **kwargs)
    except requests.RequestException:
        return None


def test_the_procfile_processes_alone_turn_a_source_into_a_study_kit(stack, tmp_path):
    ports = {"PORT": str(free_port()), "FLOWER_PORT": str(free_port())}
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        # SPEC section 7 only (and the ports a process manager hands out).
        "DATABASE_URL": stack.database_url("studynaut-fault-procfile"),
        "CELERY_BROKER_URL": stack.redis.url,
        "CELERY_RESULT_BACKEND": stack.redis.url,
        "SECRET_KEY": "procfile-test-secret-key-not-for-production",
        "CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
        **ports,
    }
    commands = procfile()
    for name in ("web", "worker", "beat", "flower"):
        stack._spawn(name, ["bash", "-c", commands[name]], env)
    base_url = f"http://127.0.0.1:{ports['PORT']}"

    wait_for(
        lambda: (response := get(f"{base_url}/api/health/")) is not None and response.status_code == 200,
        timeout=60,
        interval=0.5,
        message="the web server",
    )
    api = Api(base_url).register()
    # The worker ping and the queues are for staff (/api/health/details/).
    get_user_model().objects.filter(username="ada").update(is_staff=True)
    health = wait_for(
        lambda: (response := get(f"{base_url}/api/health/details/", headers=api.headers)) is not None
        and response.status_code == 200
        and response.json()["workers"]["count"] >= 1
        and response,
        timeout=60,
        interval=0.5,
        message="a worker",
    )
    assert set(health.json()["queues"]) == {"bookkeeping", "ai", "images"}
    source_id = api.submit(LECTURE)

    source = wait_for(
        lambda: (body := api.source(source_id))["processing_status"] not in ("PENDING", "PROCESSING")
        and body,
        timeout=60,
        interval=0.5,
        message="the source to finish",
    )

    assert source["processing_status"] == "COMPLETED", source["error_message"]
    note = api._request("GET", f"/api/notes/{source['note']}/").json()
    assert note["quiz"] and note["flashcards"]
    image = get(source["visuals"][0]["image_url"])
    assert image is not None and image.status_code == 200
    assert image.headers["Content-Type"] == "image/svg+xml"
    dashboard = wait_for(
        lambda: get(f"http://127.0.0.1:{ports['FLOWER_PORT']}/"), timeout=30, message="flower"
    )
    assert dashboard.status_code == 200
    assert "Flower" in dashboard.text
