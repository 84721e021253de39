"""Without CELERY_BROKER_URL, only the embedded commands run (on the
in-memory broker): a web server, a worker or beat started without it would
queue or wait for work in its own memory, so it refuses to start and says
why. Commands that need no broker still work. Real processes throughout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MESSAGE = "CELERY_BROKER_URL is not set"


def no_broker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh process's environment: no broker, no database server."""
    return {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "STUDYNAUT_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def run(tmp_path: Path, args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=ROOT,
        env=no_broker_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["celery", "-A", "studynaut", "worker", "-l", "info", "--without-mingle", "--without-gossip"],
        ["celery", "-A", "studynaut", "beat", "-l", "info", "--schedule", "{tmp}/beat-schedule"],
        ["gunicorn", "studynaut.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
        [sys.executable, "-c", "import studynaut.asgi"],
        [sys.executable, "manage.py", "runserver", "127.0.0.1:0", "--noreload"],
    ],
    ids=["worker", "beat", "gunicorn", "asgi", "runserver"],
)
def test_a_web_or_worker_process_without_a_broker_refuses_to_start(tmp_path, args):
    args = [str(BIN / args[0]) if args[0] in ("celery", "gunicorn") else args[0]] + [
        arg.format(tmp=tmp_path) for arg in args[1:]
    ]

    result = run(tmp_path, args, timeout=90)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert MESSAGE in output, output[-3000:]
    assert "manage.py process" in output


def test_without_a_broker_the_commands_that_need_none_still_work_but_the_web_server_does_not(tmp_path):
    env = {"DJANGO_SUPERUSER_PASSWORD": "a-long-root-pass-phrase-1", "STATIC_ROOT": str(tmp_path / "static")}
    for command in (
        ["check"],
        ["migrate", "--noinput"],
        ["createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org"],
        ["collectstatic", "--noinput"],
    ):
        result = run(tmp_path, [sys.executable, "manage.py", *command], **env)
        assert result.returncode == 0, (command, result.stderr[-3000:])

    web = run(tmp_path, [str(BIN / "gunicorn"), "studynaut.wsgi", "--bind", "127.0.0.1:0"], timeout=90)

    assert web.returncode != 0
    assert MESSAGE in web.stdout + web.stderr


def test_the_web_application_loads_with_a_broker_or_in_an_embedded_command_only(tmp_path):
    """`manage.py serve` (SPEC section 6) serves the API in-process on the
    in-memory broker: marked embedded by manage.py, it may load the WSGI
    application as runserver does. Nothing else may without a broker."""
    load = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'studynaut.settings'; "
        "import studynaut.wsgi; from django.conf import settings; print(settings.CELERY_BROKER_URL)"
    )
    as_serve = (
        "from studynaut.embedded import mark_embedded_command; "
        "mark_embedded_command(['manage.py', 'serve']); "
    )

    plain = run(tmp_path, [sys.executable, "-c", load])
    embedded = run(tmp_path, [sys.executable, "-c", as_serve + load])
    with_broker = run(tmp_path, [sys.executable, "-c", load], CELERY_BROKER_URL="redis://127.0.0.1:1/0")

    assert plain.returncode != 0
    assert MESSAGE in plain.stderr
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    assert embedded.stdout.strip() == "memory://"
    assert with_broker.returncode == 0, with_broker.stderr[-3000:]
