"""Production settings are secure by default: with DEBUG off and a real host
name, HTTPS everywhere (redirect, secure cookies, HSTS) and `manage.py check
--deploy` has nothing to say; local use on the loopback keeps plain HTTP."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
SHOWN = [
    "HTTPS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
]


def fresh_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """A new process's environment: nothing but `env` (no broker either)."""
    clean = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    clean.update(env, STUDYNAUT_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="studynaut.settings")
    return clean


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=fresh_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_with(tmp_path: Path, **env: str) -> dict:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=fresh_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def real_secret_key() -> str:
    return secrets.token_urlsafe(50)


@pytest.mark.parametrize(
    "proxy",
    [{}, {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}],
    ids=["tls-in-the-app", "behind-a-tls-proxy"],
)
def test_check_deploy_is_clean_for_a_deployment(tmp_path, proxy):
    result = check_deploy(
        tmp_path, DEBUG="0", SECRET_KEY=real_secret_key(), ALLOWED_HOSTS="study.example.org", **proxy
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_deployment_is_https_only_by_default(tmp_path):
    values = settings_with(tmp_path, DEBUG="0", ALLOWED_HOSTS="study.example.org,www.study.example.org")

    assert values["HTTPS"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # no header is trusted unless named


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "0"},
        {"DEBUG": "0", "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],app.localhost"},
        {"DEBUG": "1", "ALLOWED_HOSTS": "study.example.org"},
        {"DEBUG": "0", "ALLOWED_HOSTS": "study.example.org", "HTTPS": "0"},
    ],
    ids=["defaults", "loopback-names", "debug", "switched-off"],
)
def test_local_use_and_an_explicit_switch_keep_plain_http(tmp_path, env):
    values = settings_with(tmp_path, **env)

    assert values["HTTPS"] is False
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_the_proxy_header_is_opt_in_and_named_as_sent(tmp_path):
    values = settings_with(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")

    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


# --- What a client sees -----------------------------------------------------------------------------


@pytest.fixture
def https_site(settings):
    """The settings of a deployment behind a TLS proxy, for a new client."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return Client()


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_but_the_health_probe_is_not(https_site):
    redirected = https_site.get("/api/sources/")
    probe = https_site.get("/api/health/")

    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/api/sources/"
    assert probe.status_code == 200
