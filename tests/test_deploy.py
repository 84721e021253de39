"""What users deploy with: Procfile, docker-compose.yml and .env.example
agree with the pipeline's queues and the settings of SPEC section 7."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline import steps

ROOT = Path(__file__).resolve().parent.parent
SPEC_SETTINGS = [
    "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
    "AI_PROVIDERS", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_TRANSCRIBE_MODEL",
    "IMAGE_PROVIDER", "SERPAPI_API_KEY", "SERPAPI_BASE_URL", "CELERY_VISIBILITY_TIMEOUT",
    "PIPELINE_STUCK_AFTER", "PIPELINE_MAX_ATTEMPTS", "PROVIDER_MAX_RETRIES", "OPENAI_RPM", "SERPAPI_RPM",
    "MAX_UPLOAD_BYTES", "MAX_TEXT_CHARS",
]  # fmt: skip


def procfile(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def consumed_queues(command: str) -> set[str]:
    match = re.search(r"(?:-Q|--queues)[ =]([\w,]+)", command)
    assert match, f"a worker names its queues: {command}"
    return set(match.group(1).split(","))


@pytest.mark.parametrize("name", ["Procfile", "Procfile.dev"])
def test_the_procfile_workers_consume_every_pipeline_queue(name):
    processes = procfile(name)

    workers = [command for process, command in processes.items() if process.startswith("worker")]

    assert workers
    assert set().union(*(consumed_queues(command) for command in workers)) == set(steps.queues())
    assert {"web", "beat", "flower"} <= set(processes)


def test_the_procfile_migrates_on_release_and_serves_with_gunicorn():
    processes = procfile("Procfile")

    assert "migrate" in processes["release"]
    assert "gunicorn studynaut.wsgi" in processes["web"]
    assert "celery -A studynaut beat" in processes["beat"]
    # Flower through its guard (scripts/flower; tests/test_flower.py).
    assert processes["flower"].strip().startswith("scripts/flower ")


def test_compose_declares_the_stack_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    assert {"postgres", "redis", "web", "worker", "beat", "flower"} <= set(services)
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert "--appendonly" in services["redis"]["command"]
    assert "noeviction" in services["redis"]["command"]
    assert "ports" not in services["worker"], "a scaled worker must not claim a host port"
    worker_queues = set()
    for name, service in services.items():
        if name.startswith("worker"):
            worker_queues |= consumed_queues(" ".join(service["command"]))
    assert worker_queues == set(steps.queues())


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_compose_file_is_valid_for_docker_compose():
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker client has no compose plugin")

    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_setting():
    text = (ROOT / ".env.example").read_text()

    missing = [name for name in SPEC_SETTINGS if not re.search(rf"^#? ?{name}=", text, re.MULTILINE)]

    assert not missing
