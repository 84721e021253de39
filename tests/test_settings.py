"""Settings read from the environment: safe defaults, values derived from
the visibility timeout, loud failures on nonsense."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOWN = [
    "CELERY_VISIBILITY_TIMEOUT",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "TASK_RETRY_DELAY_MAX",
    "RATE_LIMIT_MAX_WAIT",
    "AI_PROVIDERS",
    "IMAGE_PROVIDER",
    "EMBEDDED",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "PIPELINE_STUCK_AFTER",
    "WATCHDOG_INTERVAL",
]


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """studynaut.settings as a fresh process sees them with `env`."""
    clean = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    clean.update(env, STUDYNAUT_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="studynaut.settings")
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def settings_with(tmp_path: Path, **env: str) -> dict:
    result = load_settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_nothing_set_everything_runs_offline_on_the_embedded_default(tmp_path):
    values = settings_with(tmp_path)

    assert values["EMBEDDED"] is True
    assert values["AI_PROVIDERS"] == ["local"]
    assert values["IMAGE_PROVIDER"] == "offline"
    assert not list(tmp_path.iterdir())  # importing the settings writes no files


def test_keys_switch_on_the_real_providers_with_the_local_ai_as_fallback(tmp_path):
    values = settings_with(tmp_path, OPENAI_API_KEY="sk-x", SERPAPI_API_KEY="serp-x")

    assert values["AI_PROVIDERS"] == ["openai", "local"]
    assert values["IMAGE_PROVIDER"] == "serpapi"


@pytest.mark.parametrize("visibility", [5, 10, 60, 600, 3600])
def test_time_limits_and_retry_delays_stay_below_the_visibility_timeout(tmp_path, visibility):
    values = settings_with(tmp_path, CELERY_VISIBILITY_TIMEOUT=str(visibility))

    assert values["CELERY_TASK_SOFT_TIME_LIMIT"] < values["CELERY_TASK_TIME_LIMIT"]
    assert values["CELERY_TASK_TIME_LIMIT"] + values["TASK_RETRY_DELAY_MAX"] < visibility
    assert values["RATE_LIMIT_MAX_WAIT"] < values["CELERY_TASK_SOFT_TIME_LIMIT"]
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["visibility_timeout"] == visibility
    assert options["unacked_restore_interval"] <= max(1, visibility / 10)


@pytest.mark.parametrize(("stuck_after", "interval"), [(8, 2.0), (60, 15.0), (900, 60.0)])
def test_the_watchdog_looks_several_times_within_the_stuck_threshold(tmp_path, stuck_after, interval):
    values = settings_with(tmp_path, PIPELINE_STUCK_AFTER=str(stuck_after))

    assert values["WATCHDOG_INTERVAL"] == interval


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CELERY_VISIBILITY_TIMEOUT": "60", "CELERY_TASK_TIME_LIMIT": "100"}, "CELERY_VISIBILITY_TIMEOUT"),
        ({"CELERY_VISIBILITY_TIMEOUT": "2"}, "at least 5"),
        ({"CELERY_TASK_TIME_LIMIT": "60", "CELERY_TASK_SOFT_TIME_LIMIT": "90"}, "SOFT_TIME_LIMIT"),
        ({"PIPELINE_MAX_ATTEMPTS": "0"}, "PIPELINE_MAX_ATTEMPTS"),
        ({"OPENAI_RPM": "-5"}, "OPENAI_RPM"),
        ({"MAX_UPLOAD_BYTES": "lots"}, "MAX_UPLOAD_BYTES"),
        ({"THROTTLE_HEALTH": "lots"}, "THROTTLE_HEALTH"),
        ({"THROTTLE_ADMIN_LOGIN_USERNAME": "0/hour"}, "THROTTLE_ADMIN_LOGIN_USERNAME"),
    ],
)
def test_nonsense_fails_loudly_at_start_up(tmp_path, env, message):
    result = load_settings(tmp_path, **env)

    assert result.returncode != 0
    assert message in result.stderr
