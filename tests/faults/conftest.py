"""Machinery of the fault-injection suite: real processes, real services.

Every test gets its own stack, started as subprocesses in their own process
groups (so a kill takes a whole worker, parent and pool children, and
teardown leaves nothing behind):

- a private ``redis-server`` on a free port in a temporary folder (never the
  shared Redis), with or without persistence, that a test may kill and
  restart;
- Celery workers: ``celery -A tests.fault_app worker`` (the Studynaut app
  plus test-only hooks that do nothing unless asked; see tests/fault_app.py),
  prefork pool, all pipeline queues;
- optionally ``celery beat`` (the production schedule: the watchdog every
  WATCHDOG_INTERVAL) and the web API under gunicorn.

They all use the test database that pytest-django created (``transactional_db``:
data is committed, workers see it) and the fake OpenAI and SerpAPI servers
of tests/fakes.py running in this process. Timings are shortened so that
recovery takes seconds; everything else is the production configuration.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from django.db import connection

from notes.models import Note, Source, Visual
from pipeline.models import JobRecord
from tests.conftest import wait_for, wait_for_job_records
from tests.fakes import FakeOpenAI, FakeSerpAPI, default_answer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LECTURE = (ROOT / "samples" / "lecture.md").read_text()
FAKE_OPENAI_KEY = "sk-fault-suite-0123456789abcdef"
FAKE_SERPAPI_KEY = "serp-fault-suite-0123456789"
# application_name of the database connections of each kind of process.
DB_APP_PREFIX = "studynaut-fault-"
WORKER_DB_APP = f"{DB_APP_PREFIX}worker"
WEB_DB_APP = f"{DB_APP_PREFIX}web"
BEAT_DB_APP = f"{DB_APP_PREFIX}beat"
TEST_DB_APP = f"{DB_APP_PREFIX}test"

# A clean run with the fake OpenAI's default answers gives this many.
CLEAN_QUIZ = len(default_answer("quiz", LECTURE)["questions"])
CLEAN_CARDS = len(default_answer("flashcards", LECTURE)["flashcards"])
CLEAN_VISUALS = len(default_answer("lesson_structure", LECTURE)["visualOpportunities"])

# Short timings for every process of the stack (a test may override them).
# The settings' own check holds: VISIBILITY_TIMEOUT > TIME_LIMIT + RETRY_DELAY_MAX.
TIMINGS = {
    "CELERY_TASK_TIME_LIMIT": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "5",
    "TASK_RETRY_DELAY_MAX": "1",
    "CELERY_VISIBILITY_TIMEOUT": "8",
    # kombu's sweep of unacknowledged messages, every second (see fault_app).
    "FAULT_RESTORE_INTERVAL": "1",
    "WATCHDOG_INTERVAL": "1",
    # The watchdog only acts when a test runs beat and lowers this.
    "PIPELINE_STUCK_AFTER": "600",
    "PIPELINE_MAX_ATTEMPTS": "3",
    "JOIN_MAX_WAITS": "10",
    "PROVIDER_TIMEOUT": "30",
    "PROVIDER_MAX_RETRIES": "1",
    "PROVIDER_BACKOFF_BASE": "0.05",
    "PROVIDER_BACKOFF_MAX": "0.2",
}
# Time limits short enough for a test to hit them, within the settings' rule
# (visibility timeout > time limit + retry delay).
SHORT_LIMITS = {
    "CELERY_TASK_TIME_LIMIT": "4",
    "CELERY_TASK_SOFT_TIME_LIMIT": "3",
    "TASK_RETRY_DELAY_MAX": "1",
    "CELERY_VISIBILITY_TIMEOUT": "6",
}
FINAL = (Source.Status.COMPLETED, Source.Status.COMPLETED_WITH_ERRORS, Source.Status.FAILED)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_group(popen: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 10) -> None:
    """Signal every process of `popen`'s process group and reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=timeout)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    replaced: bool = False  # restarted by Stack.supervise

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


# --- Redis ------------------------------------------------------------------------


class RedisServer:
    """A private redis-server that a test may kill and start again.

    persistence "none": nothing survives a restart (the worst case: queued
    messages, unacknowledged ones and chord counters are lost).
    persistence "aof": appendonly with fsync on every write, as production
    should run it: a killed server comes back with everything it acknowledged.
    """

    def __init__(self, directory: Path, persistence: str = "none") -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.persistence = persistence
        self.port = free_port()
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def start(self) -> None:
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
        ]
        if self.persistence == "aof":
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.starts += 1
        log = open(self.directory / f"redis-{self.starts}.log", "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(self._ping, timeout=10, interval=0.05, message=f"redis-server on port {self.port}")

    def _ping(self) -> bool:
        try:
            with self.client() as client:
                return client.ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown save, like a crash of the machine's Redis."""
        if self.popen is not None:
            kill_group(self.popen)
            self.popen = None

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()


# --- the web API ------------------------------------------------------------------


class Api:
    """A client of the live API (gunicorn subprocess), one user. Thread-safe:
    no shared session."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.headers: dict[str, str] = {}

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        with requests.Session() as session:
            session.trust_env = False
            return session.request(
                method, f"{self.base_url}{path}", headers=self.headers, timeout=30, **kwargs
            )

    def register(self, username: str = "ada") -> Api:
        response = self._request(
            "POST",
            "/api/auth/register/",
            json={"username": username, "password": "correct horse battery staple 42"},
        )
        assert response.status_code == 201, response.text
        self.headers["Authorization"] = f"Token {response.json()['token']}"
        return self

    def post_text(self, text: str = LECTURE, title: str = "") -> requests.Response:
        return self._request("POST", "/api/sources/", json={"kind": "TEXT", "text": text, "title": title})

    def submit(self, text: str = LECTURE, title: str = "") -> int:
        response = self.post_text(text, title)
        assert response.status_code == 202, response.text
        assert response.json()["processing_status"] == "PENDING"
        return response.json()["id"]

    def source(self, source_id: int) -> dict:
        response = self._request("GET", f"/api/sources/{source_id}/")
        assert response.status_code == 200, response.text
        return response.json()


# --- the stack --------------------------------------------------------------------


@dataclass
class Stack:
    tmp: Path
    db_name: str
    redis: RedisServer
    openai: FakeOpenAI
    serpapi: FakeSerpAPI
    env: dict = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def database_url(self, application_name: str) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.db_name}?application_name={application_name}"

    def base_env(self, **overrides: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "studynaut.settings",
            "SECRET_KEY": "fault-suite-secret-key-not-for-production",
            "STUDYNAUT_DATA_DIR": str(self.tmp / "data"),
            "DATABASE_URL": self.database_url(f"{DB_APP_PREFIX}other"),
            "CELERY_BROKER_URL": self.redis.url,
            "CELERY_RESULT_BACKEND": self.redis.url,
            "OPENAI_API_KEY": FAKE_OPENAI_KEY,
            "OPENAI_BASE_URL": self.openai.base_url,
            "OPENAI_RPM": "100000",
            "AI_PROVIDERS": "openai",
            "SERPAPI_API_KEY": FAKE_SERPAPI_KEY,
            "SERPAPI_BASE_URL": self.serpapi.base_url,
            "SERPAPI_RPM": "100000",
            "IMAGE_PROVIDER": "serpapi",
            "THROTTLE_ANON": "100000/min",
            "THROTTLE_USER": "100000/min",
            "THROTTLE_SOURCES_CREATE": "100000/min",
            "THROTTLE_AUTH": "100000/min",
            "LOG_LEVEL": "INFO",
            **TIMINGS,
            **self.env,
        }
        env.update(overrides)
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        log_path = self.tmp / f"{name}-{len(self.procs)}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(name, popen, log_path, args, env)
        self.procs.append(proc)
        return proc

    def supervise(self, until, *, timeout: float, interval: float = 0.3, message: str = "condition"):
        """Wait for `until()` like a process supervisor (compose's `restart:
        unless-stopped`) would: a worker or beat that exited is started again.
        (A Celery worker can exit when Redis vanishes under it; kombu then
        fails while closing its channels.) Returns how many were restarted."""
        restarted = 0
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {message}"
            for proc in list(self.procs):
                if proc.name != "web" and not proc.alive and not proc.replaced:
                    proc.replaced = True
                    self._spawn(proc.name, proc.args, proc.env)
                    restarted += 1
            time.sleep(interval)
        return restarted

    def worker(self, name: str = "w1", *, concurrency: int = 2, **env: str) -> Proc:
        environment = self.base_env(**env, DATABASE_URL=self.database_url(WORKER_DB_APP))
        return self._spawn(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "tests.fault_app",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "-Q",
                "bookkeeping,ai,images",
                "-n",
                f"{name}-{len(self.procs)}@%h",
                # As the Procfile runs them (remote control is off in the settings).
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            environment,
        )

    def beat(self, **env: str) -> Proc:
        return self._spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "tests.fault_app",
                "beat",
                "-s",
                str(self.tmp / f"beat-schedule-{len(self.procs)}"),
                "-l",
                "INFO",
            ],
            self.base_env(**env, DATABASE_URL=self.database_url(BEAT_DB_APP)),
        )

    def web(self, **env: str) -> Api:
        port = free_port()
        environment = self.base_env(**env, DATABASE_URL=self.database_url(WEB_DB_APP))
        proc = self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "studynaut.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "8",
                "--timeout",
                "60",
                "--no-control-socket",
            ],
            environment,
        )
        base_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.alive, f"the web server died:\n{proc.tail()}"
            try:
                requests.get(f"{base_url}/api/health/", timeout=10)
            except requests.RequestException:
                return False
            return True

        wait_for(up, timeout=30, interval=0.1, message="the web server")
        return Api(base_url)

    def kill(self, proc: Proc) -> None:
        """kill -9 of the whole process (group): parent and pool children."""
        kill_group(proc.popen)
        wait_for(lambda: not group_alive(proc.popen.pid), timeout=10, message=f"{proc.name} to die")

    def close(self) -> None:
        for proc in self.procs:
            if group_alive(proc.popen.pid) or proc.alive:
                kill_group(proc.popen)
        self.redis.kill()

    def logs(self) -> str:
        return "\n\n".join(
            f"===== {proc.name} ({proc.log.name}) =====\n{proc.tail(80)}" for proc in self.procs
        )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def database_name() -> str:
    return connection.settings_dict["NAME"]


def raw_connection(**kwargs) -> psycopg.Connection:
    """A connection of our own to the test database (autocommit unless told)."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        application_name=TEST_DB_APP,
        **kwargs,
    )


def terminate_backends(*, application_name: str | None = None, waiting_only: bool = False) -> int:
    """pg_terminate_backend on the backends of OUR test database only (never
    another database's) that our subprocesses opened (never this process's)."""
    query = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND application_name LIKE %s AND application_name <> %s"
    )
    params: list = [database_name(), f"{DB_APP_PREFIX}%", TEST_DB_APP]
    if application_name is not None:
        query += " AND application_name = %s"
        params.append(application_name)
    if waiting_only:
        query += " AND wait_event_type = 'Lock'"
    with raw_connection(autocommit=True) as conn:
        return conn.execute(query, params).fetchone()[0]


def backends_waiting_for_a_lock(application_name: str = WORKER_DB_APP) -> int:
    with raw_connection(autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
            "AND wait_event_type = 'Lock'",
            [database_name(), application_name],
        ).fetchone()[0]


@pytest.fixture
def openai_fake():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def serpapi_fake():
    with FakeSerpAPI() as fake:
        yield fake


@pytest.fixture
def make_stack(request, transactional_db, tmp_path, openai_fake, serpapi_fake):
    """make_stack(persistence="none"|"aof") -> a Stack with its Redis running.
    Everything it started is killed at teardown, before the database is
    flushed, even when the test failed."""
    stacks: list[Stack] = []

    def make(persistence: str = "none") -> Stack:
        server = RedisServer(tmp_path / f"redis-{len(stacks)}", persistence)
        stack = Stack(tmp_path, database_name(), server, openai_fake, serpapi_fake)
        stacks.append(stack)
        server.start()
        return stack

    yield make
    for stack in stacks:
        stack.close()
    # Backends of killed workers may still wait on a lock (and hold others):
    # end them, so the flush of the test database does not wait behind them.
    terminate_backends()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for stack in stacks:
            print(stack.logs())


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack()


# --- looking at the outcome -------------------------------------------------------


def status_of(source_id: int) -> str:
    return Source.objects.filter(pk=source_id).values_list("processing_status", flat=True).first()


def wait_until_final(source_id: int, *, timeout: float = 60) -> Source:
    wait_for(
        lambda: status_of(source_id) in FINAL, timeout=timeout, interval=0.2, message=f"source {source_id}"
    )
    wait_for_job_records(source_id)
    return Source.objects.get(pk=source_id)


def wait_for_job(job_type: str, *, state: str = JobRecord.State.STARTED, count: int = 1, timeout: float = 30):
    """Until `count` executions of `job_type` are recorded in `state`."""
    return wait_for(
        lambda: JobRecord.objects.filter(job_type=job_type, state=state).count() >= count,
        timeout=timeout,
        interval=0.05,
        message=f"{count} {job_type} job(s) in {state}",
    )


def assert_completed_like_a_clean_run(
    source_id: int, *, visuals: int = CLEAN_VISUALS, quiz: int = CLEAN_QUIZ, cards: int = CLEAN_CARDS
) -> Source:
    """COMPLETED with exactly one note, one visual per distinct placeholder
    (all final and in the note), and the quiz and flashcards of a clean run."""
    source = Source.objects.get(pk=source_id)
    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert source.processing_stage is None
    assert Note.objects.filter(source_id=source_id).count() == 1
    note = Note.objects.get(source_id=source_id)
    rows = list(Visual.objects.filter(source_id=source_id))
    assert len(rows) == visuals
    assert len({visual.placeholder_id for visual in rows}) == visuals
    for visual in rows:
        assert visual.status == Visual.Status.COMPLETED, (visual.status, visual.error_message)
        assert visual.image_url and visual.image_url in note.html_content
    assert "[VISUAL::" not in note.markdown_content
    assert note.quiz_questions.count() == quiz
    assert note.flashcards.count() == cards
    return source


def jobs(source_id: int, job_type: str, state: str | None = None):
    records = JobRecord.objects.filter(source_id=source_id, job_type=job_type)
    return records if state is None else records.filter(state=state)
