"""Benchmark of the Studynaut pipeline against a bare Celery canvas of the same shape.

    scripts/bench                    # S=200 sources, V=5 visuals each; scenarios fast, slow
    scripts/bench --quick            # S=20, fewer single-source runs
    scripts/bench -S 100 -V 3 --json out.json
    scripts/bench --scenarios fast,slow,fast-io,slow-procfile   # both layouts in both scenarios
    scripts/bench --layout-slow "bookkeeping/prefork/2+ai/threads/4+images/threads/8"
    scripts/bench --conn-max-age 0   # without persistent database connections
    scripts/bench --help

docs/benchmarks.md explains the figures, the machine they were taken on and
what limits them.

Everything is real except the providers: PostgreSQL (database
`studynaut_bench`, created and migrated if needed), Redis (a private
redis-server on a free port unless --redis-url is given), the web app
(gunicorn, as in the Procfile) and the Celery workers (subprocesses). The
providers are tests.fakes servers in their own processes (bench/fakes_server.py)
that speak the OpenAI and SerpAPI wire formats, so the real `openai` and
`google-search-results` clients and the shared rate limiter are in the path
(OPENAI_RPM/SERPAPI_RPM are set high enough never to throttle).

For each scenario (no provider latency; 100 ms per AI call and per image
search) and its worker layout, the script:

1. starts the pipeline's workers (`celery -A bench.pipeline_app worker`, the
   studynaut app plus query counting, see bench/pipeline_app.py), warms them
   up, submits S sources through `POST /api/sources/` and waits until all are
   final; then runs single sources one at a time for time-to-note against the
   critical path of their provider calls;
2. starts the bare canvas's workers (`celery -A bench.bare worker`) with the
   same layout on the same broker and runs S canvases: the floor;
3. prints sources/s, tasks/s, p50/p95 submit->COMPLETED, peak worker RSS,
   database queries per source and per task, and the ratios pipeline/bare
   and achieved/ideal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LECTURE = (ROOT / "samples" / "lecture.md").read_text()
FINAL = ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED")
PIPELINE_QUEUES = ("bookkeeping", "ai", "images")

# Worker layouts: workers separated by "+", each "queues/pool/concurrency".
PRESETS = {
    # The Procfile's single worker: every queue, prefork, WORKER_CONCURRENCY=4.
    "procfile": "bookkeeping,ai,images/prefork/4",
    # Recommended: light bookkeeping in prefork, the I/O-bound queues in threads.
    "io": "bookkeeping/prefork/2+ai/threads/8+images/threads/16",
}


@dataclass(frozen=True)
class WorkerSpec:
    queues: tuple[str, ...]
    pool: str
    concurrency: int

    @property
    def label(self) -> str:
        return f"{','.join(self.queues)}/{self.pool}/{self.concurrency}"


def parse_layout(text: str) -> list[WorkerSpec]:
    text = PRESETS.get(text, text)
    workers = []
    for part in text.split("+"):
        queues, pool, concurrency = part.strip().split("/")
        queue_names = tuple(q.strip() for q in queues.split(",") if q.strip())
        unknown = set(queue_names) - set(PIPELINE_QUEUES)
        if unknown or pool not in ("prefork", "threads", "gevent", "solo") or int(concurrency) < 1:
            raise argparse.ArgumentTypeError(f"bad worker spec {part!r}")
        workers.append(WorkerSpec(queue_names, pool, int(concurrency)))
    served = [q for w in workers for q in w.queues]
    if sorted(served) != sorted(PIPELINE_QUEUES):
        raise argparse.ArgumentTypeError(f"layout {text!r} must serve each of {PIPELINE_QUEUES} exactly once")
    return workers


def layout_label(workers: list[WorkerSpec]) -> str:
    return " + ".join(w.label for w in workers)


@dataclass
class Scenario:
    name: str
    ai_latency: float
    image_latency: float
    layout: list[WorkerSpec]


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Every process the benchmark starts, each in its own session, stopped by its id."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, argv: list[str], env: dict, *, stdout_pipe: bool = False) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE if stdout_pipe else log,
            stderr=log,
            start_new_session=True,
        )
        proc.bench_name = name  # type: ignore[attr-defined]
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, *, timeout: float = 30.0) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.running)):
            self.stop(proc, timeout=15)


def wait_for_log(path: Path, text: str, *, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{path.name}: the process exited ({proc.returncode}); see {path}")
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {text!r} in {path}")


class MemorySampler(threading.Thread):
    """Peak RSS of the worker process trees (the main process and its pool children)."""

    def __init__(self, pids: list[int], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.peak_total = 0
        self.peaks: dict[int, int] = dict.fromkeys(pids, 0)
        self._halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                rss = root.memory_info().rss
                for child in root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss += child.memory_info().rss
            except psutil.Error:
                continue
            self.peaks[pid] = max(self.peaks[pid], rss)
            total += rss
        self.peak_total = max(self.peak_total, total)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and its reaped children."""
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def postmaster_pid() -> int | None:
    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] in ("postgres", "postmaster") and proc.info["ppid"] in (0, 1):
            return proc.pid
    return None


class CpuMeter:
    """CPU seconds spent by each group of processes between start() and stop().

    PostgreSQL is the whole server (other databases' users included); "machine"
    is every core's busy time, whatever ran."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.delta: dict[str, float] = {}

    def _snapshot(self) -> dict[str, float]:
        snap = {name: sum(tree_cpu(pid) for pid in pids) for name, pids in self.groups.items()}
        own = psutil.Process().cpu_times()
        snap["bench script"] = own.user + own.system
        machine = psutil.cpu_times()
        snap["machine"] = machine.user + machine.system + machine.nice + getattr(machine, "softirq", 0)
        snap["machine"] += getattr(machine, "irq", 0) + getattr(machine, "steal", 0)
        return snap

    def start(self) -> None:
        self.before = self._snapshot()
        self.wall = time.monotonic()

    def stop(self) -> None:
        after = self._snapshot()
        self.wall = time.monotonic() - self.wall
        self.delta = {name: after[name] - self.before[name] for name in after}


# --- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def critical_path(calls: list[dict]) -> dict:
    """The provider part of a source's critical path: the structure call(s), then
    the slowest image search, then the study tools (their calls' union: one
    call's time when quiz and flashcards overlap, the sum when they run in turn)."""
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for call in calls:
        by_kind.setdefault(call["kind"], []).append((call["t0"], call["t1"]))
    structure = sum(t1 - t0 for t0, t1 in by_kind.get("lesson_structure", []))
    images = max((t1 - t0 for t0, t1 in by_kind.get("image", [])), default=0.0)
    tools = by_kind.get("quiz", []) + by_kind.get("flashcards", [])
    study = union_length(tools)
    overlapped = len(tools) >= 2 and study < 0.75 * sum(t1 - t0 for t0, t1 in tools)
    return {
        "structure": structure,
        "slowest_image": images,
        "study_tools": study,
        "study_tools_overlap": overlapped,
        "total": structure + images + study,
    }


# --- the benchmark ------------------------------------------------------------------------------


@dataclass
class Run:
    """Figures of one pipeline or bare run."""

    kind: str
    sources: int
    completed: int = 0
    failed: int = 0
    duration: float = 0.0
    tasks: int = 0
    latencies: list[float] = field(default_factory=list)
    peak_rss: int = 0
    queries_per_source: float | None = None
    xacts_per_source: float | None = None
    queries_per_task: dict[str, float] = field(default_factory=dict)
    ideal: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    @property
    def sources_per_second(self) -> float:
        return self.sources / self.duration if self.duration else float("nan")

    @property
    def tasks_per_second(self) -> float:
        return self.tasks / self.duration if self.duration else float("nan")

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "sources": self.sources,
            "completed": self.completed,
            "failed": self.failed,
            "duration_s": round(self.duration, 3),
            "tasks": self.tasks,
            "sources_per_s": round(self.sources_per_second, 2),
            "tasks_per_s": round(self.tasks_per_second, 1),
            "p50_s": round(percentile(self.latencies, 0.5), 3),
            "p95_s": round(percentile(self.latencies, 0.95), 3),
            "peak_worker_rss_mb": round(self.peak_rss / 2**20, 1),
            "db_queries_per_source": self.queries_per_source,
            "db_transactions_per_source": self.xacts_per_source,
            "db_queries_per_task": self.queries_per_task,
            "ideal_sources_per_s": self.ideal,
            "cpu_ms_per_source": {name: round(v * 1000 / self.sources, 1) for name, v in self.cpu.items()},
            "cpu_cores_busy": round(self.cpu.get("machine", 0) / self.wall, 2) if self.wall else None,
        }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="studynaut-bench-"))
        self.procs = Processes(self.tmp)
        self.own_redis: subprocess.Popen | None = None
        self.redis_url = args.redis_url
        self.database = args.database
        self.db_url = f"{args.postgres.rstrip('/')}/{self.database}"
        self.web_url = ""
        self.token = ""
        self.fakes: dict[str, str] = {}
        self.fake_procs: list[subprocess.Popen] = []
        self.run_id = uuid.uuid4().hex[:6]
        self.counter = 0
        self.polls = 0
        self.study_tools_calls = 2
        self._local = threading.local()

    # infrastructure
    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def start_redis(self) -> None:
        if self.redis_url:
            return
        port = free_port()
        self.own_redis = self.procs.start(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            os.environ.copy(),
        )
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(self.redis_url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        self.log(f"private redis-server on {self.redis_url}")

    def use_redis(self) -> None:
        os.environ["BENCH_BROKER_URL"] = self.redis_url  # for bench.bare, imported here to publish

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def reset_redis(self) -> None:
        client = self.redis()
        if self.own_redis is not None:
            client.flushdb()  # our own server: nobody else's data
        else:
            keys = list(client.scan_iter("bench:*"))
            if keys:
                client.delete(*keys)

    def env(self, **extra: str) -> dict:
        env = os.environ.copy()
        env.update(
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="studynaut.settings",
            DATABASE_URL=self.db_url,
            CELERY_BROKER_URL=self.redis_url,
            CELERY_RESULT_BACKEND=self.redis_url,
            BENCH_REDIS_URL=self.redis_url,
            BENCH_BROKER_URL=self.redis_url,
            SECRET_KEY="bench-only-secret-key-" + "x" * 40,
            DEBUG="0",
            LOG_LEVEL="INFO",
            AI_PROVIDERS="openai",
            OPENAI_API_KEY="sk-bench-not-a-real-key",
            OPENAI_MODEL="bench-model",
            IMAGE_PROVIDER="serpapi",
            SERPAPI_API_KEY="serp-bench-not-a-real-key",
            OPENAI_RPM="100000000",
            SERPAPI_RPM="100000000",
            THROTTLE_USER="100000000/min",
            THROTTLE_ANON="100000000/min",
            THROTTLE_SOURCES_CREATE="100000000/min",
            DATABASE_CONN_MAX_AGE=str(self.args.conn_max_age),
        )
        if "openai" in self.fakes:
            env["OPENAI_BASE_URL"] = self.fakes["openai"]
        if "serpapi" in self.fakes:
            env["SERPAPI_BASE_URL"] = self.fakes["serpapi"]
        env.update(extra)
        return env

    def prepare_database(self) -> None:
        admin_url = f"{self.args.postgres.rstrip('/')}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
                self.log(f"created database {self.database}")
        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env(),
            check=True,
        )
        self.db = psycopg.connect(self.db_url, autocommit=True)

    def clean_database(self) -> None:
        # Our own database: the previous runs' rows go, users and tokens stay.
        self.db.execute("TRUNCATE notes_source, notes_jobrecord CASCADE")

    def start_fakes(self, scenario: Scenario) -> None:
        self.stop_fakes()
        for service, latency in (("openai", scenario.ai_latency), ("serpapi", scenario.image_latency)):
            argv = [str(BIN / "python"), "-m", "bench.fakes_server", service, "--latency", str(latency)]
            argv += ["--visuals", str(self.args.visuals)]
            proc = self.procs.start(f"fake-{service}-{scenario.name}", argv, self.env(), stdout_pipe=True)
            line = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
            if not line.startswith("http"):
                raise RuntimeError(f"the fake {service} did not start: {line!r}")
            self.fakes[service] = line
            self.fake_procs.append(proc)

    def stop_fakes(self) -> None:
        for proc in self.fake_procs:
            self.procs.stop(proc, timeout=5)
        self.fake_procs = []

    def start_web(self) -> None:
        port = free_port()
        self.web = self.procs.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "studynaut.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            self.env(),
        )
        self.web_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        username = f"bench-{self.run_id}"
        password = secrets.token_urlsafe(16)
        while True:
            try:
                response = requests.post(
                    f"{self.web_url}/api/auth/register/",
                    json={"username": username, "password": password},
                    timeout=10,
                )
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or self.web.poll() is not None:
                    raise RuntimeError(f"the web app did not start; see {self.tmp / 'web.log'}") from None
                time.sleep(0.2)
        response.raise_for_status()
        self.token = response.json()["token"]
        self.log(f"web app (gunicorn, 2 workers x 4 threads) on {self.web_url}")

    def start_workers(self, app: str, layout: list[WorkerSpec], scenario: Scenario, prefix: str = ""):
        workers = []
        extra = {
            "BENCH_AI_LATENCY": str(scenario.ai_latency),
            "BENCH_IMAGE_LATENCY": str(scenario.image_latency),
            "BENCH_STUDY_TOOLS_CALLS": str(self.study_tools_calls),
        }
        for number, spec in enumerate(layout):
            name = f"{app.split('.')[-1]}-{scenario.name}-{number}-{'-'.join(spec.queues)}"
            argv = [
                str(BIN / "celery"),
                "-A",
                app,
                "worker",
                "-l",
                "info",
                "-Q",
                ",".join(prefix + q for q in spec.queues),
                "-P",
                spec.pool,
                "-c",
                str(spec.concurrency),
                "-n",
                f"{name}-{self.run_id}@%h",
            ]
            workers.append(self.procs.start(name, argv, self.env(**extra)))
        for proc in workers:
            wait_for_log(self.tmp / f"{proc.bench_name}.log", " ready.", proc=proc)
        return workers

    def stop_workers(self, workers) -> None:
        for proc in workers:
            self.procs.stop(proc, timeout=60)

    # the pipeline through the API
    def new_token(self) -> str:
        self.counter += 1
        return f"bench-src-{self.run_id}-{self.counter}"

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Token {self.token}"
        return session

    def submit_one(self, token: str) -> tuple[str, int, float]:
        text = f"{token}. {LECTURE}"
        started = time.time()
        response = self.session().post(
            f"{self.web_url}/api/sources/", json={"kind": "TEXT", "text": text}, timeout=60
        )
        if response.status_code != 202:
            raise RuntimeError(f"POST /api/sources/ answered {response.status_code}: {response.text[:300]}")
        return token, response.json()["id"], started

    def submit_many(self, count: int) -> list[tuple[str, int, float]]:
        tokens = [self.new_token() for _ in range(count)]
        with ThreadPoolExecutor(self.args.clients) as pool:
            return list(pool.map(self.submit_one, tokens))

    def wait_final(self, ids: list[int], *, timeout: float, interval: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        while True:
            (done,) = self.db.execute(
                "SELECT count(*) FROM notes_source WHERE id = ANY(%s) AND processing_status = ANY(%s)",
                (ids, list(FINAL)),
            ).fetchone()
            self.polls += 1
            if done >= len(ids):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {len(ids)} sources finished in {timeout:.0f} s")
            time.sleep(interval)

    def finished(self, ids: list[int]) -> dict[int, tuple[str, float, str]]:
        rows = self.db.execute(
            "SELECT id, processing_status, extract(epoch FROM updated_at), error_message "
            "FROM notes_source WHERE id = ANY(%s)",
            (ids,),
        ).fetchall()
        return {row[0]: (row[1], float(row[2]), row[3]) for row in rows}

    def xact_commit(self) -> int:
        (value,) = self.db.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (self.database,)
        ).fetchone()
        return int(value)

    def pipeline_run(self, scenario: Scenario, workers) -> tuple[Run, list[dict]]:
        args = self.args
        self.log(f"  warm-up: {args.warmup} sources")
        warm = self.submit_many(args.warmup)
        self.wait_final([i for _, i, _ in warm], timeout=120)
        client = self.redis()
        client.delete("bench:queries", "bench:tasks")
        self.polls = 0
        time.sleep(1.2)  # let PostgreSQL flush the warm-up's statistics
        xacts_before = self.xact_commit()

        sampler = MemorySampler([w.pid for w in workers])
        sampler.start()
        meter = self.cpu_meter(workers)
        meter.start()
        self.log(f"  {args.sources} sources x {args.visuals} visuals through POST /api/sources/")
        submitted = self.submit_many(args.sources)
        ids = [i for _, i, _ in submitted]
        self.wait_final(ids, timeout=max(180.0, args.sources * 3.0))
        meter.stop()
        sampler.stop()

        run = Run("pipeline", args.sources, peak_rss=sampler.peak_total, cpu=meter.delta, wall=meter.wall)
        done = self.finished(ids)
        first_submit = min(t for _, _, t in submitted)
        last_finish = max(finish for _, finish, _ in done.values())
        run.duration = last_finish - first_submit
        run.completed = sum(1 for status, _, _ in done.values() if status == "COMPLETED")
        run.failed = args.sources - run.completed
        for _, source_id, started in submitted:
            run.latencies.append(done[source_id][1] - started)
        errors = {message for status, _, message in done.values() if status != "COMPLETED"}
        if errors:
            self.log(f"  NOT COMPLETED: {run.failed}: {sorted(errors)[:3]}")
        (run.tasks,) = self.db.execute(
            "SELECT count(*) FROM notes_jobrecord WHERE source_id = ANY(%s)", (ids,)
        ).fetchone()

        queries = {k.decode(): int(v) for k, v in client.hgetall("bench:queries").items()}
        tasks = {k.decode(): int(v) for k, v in client.hgetall("bench:tasks").items()}
        run.queries_per_source = round(sum(queries.values()) / args.sources, 1)
        run.queries_per_task = {name: round(queries[name] / tasks[name], 2) for name in sorted(tasks)}
        time.sleep(1.2)
        # Transactions of the web app and the workers (each autocommit query is
        # one); our own polling queries are taken out.
        run.xacts_per_source = round((self.xact_commit() - xacts_before - self.polls - 1) / args.sources, 1)

        calls = []
        for token, _, _ in submitted[: min(20, len(submitted))]:
            calls.append([json.loads(c) for c in client.lrange(f"bench:calls:{token}", 0, -1)])
        return run, calls

    def single_runs(self, count: int) -> list[dict]:
        results = []
        client = self.redis()
        for _ in range(count):
            token, source_id, started = self.submit_one(self.new_token())
            self.wait_final([source_id], timeout=60, interval=0.01)
            status, finished, message = self.finished([source_id])[source_id]
            time.sleep(0.2)  # the last job record is closed just after the source
            calls = [json.loads(c) for c in client.lrange(f"bench:calls:{token}", 0, -1)]
            jobs = self.db.execute(
                "SELECT job_type, extract(epoch FROM started_at), extract(epoch FROM finished_at) "
                "FROM notes_jobrecord WHERE source_id = %s ORDER BY started_at",
                (source_id,),
            ).fetchall()
            path = critical_path(calls)
            results.append(
                {
                    "status": status,
                    "error": message,
                    "time_to_note": finished - started,
                    "critical_path": path,
                    "timeline": [
                        (job, round((float(t0) - started) * 1000), round((float(t1 or t0) - started) * 1000))
                        for job, t0, t1 in jobs
                    ],
                    "calls": [
                        (c["kind"], round((c["t0"] - started) * 1000), round((c["t1"] - started) * 1000))
                        for c in calls
                    ],
                }
            )
            time.sleep(0.3)
        return results

    def cpu_meter(self, workers) -> CpuMeter:
        groups = {
            "workers": [w.pid for w in workers],
            "web": [self.web.pid],
            "fake providers": [p.pid for p in self.fake_procs],
        }
        if self.own_redis is not None:
            groups["redis"] = [self.own_redis.pid]
        if self.postmaster:
            groups["postgres (whole server)"] = [self.postmaster]
        return CpuMeter(groups)

    # the bare canvas
    def bare_run(self, workers) -> Run:
        from bench import bare

        args = self.args
        client = self.redis()

        def launch(count: int) -> dict[str, float]:
            started = {}
            for _ in range(count):
                key = self.new_token()
                started[key] = time.time()
                bare.signature(key=key, visuals=args.visuals).apply_async()
            return started

        def wait(keys: dict[str, float], timeout: float) -> dict[str, float]:
            deadline = time.monotonic() + timeout
            while True:
                done = client.hmget("bench:bare:done", list(keys))
                if all(done):
                    return {key: float(value) for key, value in zip(keys, done, strict=True)}
                if time.monotonic() > deadline:
                    missing = sum(1 for value in done if not value)
                    raise RuntimeError(f"{missing} bare canvases did not finish in {timeout:.0f} s")
                time.sleep(0.05)

        wait(launch(args.warmup), 60)
        sampler = MemorySampler([w.pid for w in workers])
        sampler.start()
        meter = self.cpu_meter(workers)
        meter.start()
        started = launch(args.sources)
        finished = wait(started, max(120.0, args.sources * 2.0))
        meter.stop()
        sampler.stop()
        run = Run("bare", args.sources, peak_rss=sampler.peak_total, completed=args.sources)
        run.cpu, run.wall = meter.delta, meter.wall
        run.duration = max(finished.values()) - min(started.values())
        run.latencies = [finished[key] - started[key] for key in started]
        run.tasks = args.sources * (4 + args.visuals)
        run.queries_per_source = 0.0
        return run

    # ideal
    def ideal(self, scenario: Scenario) -> float | None:
        """Sources per second that the layout's concurrency allows when only provider
        latency counts: every worker's slots divided by the slot-seconds one source
        needs on the queues it serves (AI: the structure call plus the study tools'
        serial calls; images: V searches; bookkeeping: none)."""
        demand = {
            "ai": scenario.ai_latency * (1 + self.study_tools_calls),
            "images": scenario.image_latency * self.args.visuals,
            "bookkeeping": 0.0,
        }
        bounds = []
        for spec in scenario.layout:
            need = sum(demand[q] for q in spec.queues)
            if need > 0:
                bounds.append(spec.concurrency / need)
        return round(min(bounds), 2) if bounds else None

    # one scenario
    def scenario(self, scenario: Scenario) -> dict:
        args = self.args
        self.log(
            f"scenario {scenario.name}: AI {scenario.ai_latency * 1000:.0f} ms, images "
            f"{scenario.image_latency * 1000:.0f} ms, layout {layout_label(scenario.layout)}"
        )
        self.reset_redis()
        self.clean_database()
        self.start_fakes(scenario)
        # The web app does not call providers; its settings only need the database and Redis.
        workers = self.start_workers("bench.pipeline_app", scenario.layout, scenario)
        try:
            pipeline, calls = self.pipeline_run(scenario, workers)
            overlaps = [critical_path(c)["study_tools_overlap"] for c in calls if c]
            self.study_tools_calls = 1 if overlaps and sum(overlaps) > len(overlaps) / 2 else 2
            self.log(f"  single sources, one at a time: {args.single}")
            singles = self.single_runs(args.single)
        finally:
            self.stop_workers(workers)
        pipeline.ideal = self.ideal(scenario)

        self.reset_redis()
        bare_workers = self.start_workers("bench.bare", scenario.layout, scenario, prefix="bare-")
        try:
            self.log(f"  bare canvas: {args.sources} canvases")
            bare = self.bare_run(bare_workers)
        finally:
            self.stop_workers(bare_workers)
        bare.ideal = pipeline.ideal
        self.stop_fakes()
        result = {
            "scenario": scenario.name,
            "ai_latency_s": scenario.ai_latency,
            "image_latency_s": scenario.image_latency,
            "layout": layout_label(scenario.layout),
            "study_tools_serial_calls": self.study_tools_calls,
            "pipeline": pipeline.as_dict(),
            "bare": bare.as_dict(),
            "single": singles,
        }
        report(result)
        return result

    def run(self) -> list[dict]:
        self.study_tools_calls = 2
        self.postmaster = postmaster_pid()
        self.start_redis()
        self.use_redis()
        self.prepare_database()
        self.start_web()
        results = []
        for scenario in self.args.scenarios:
            results.append(self.scenario(scenario))
        return results

    def close(self) -> None:
        self.procs.stop_all()
        if getattr(self, "db", None) is not None:
            self.db.close()


# --- reporting ------------------------------------------------------------------------------------


def _fmt(value, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def report(result: dict) -> None:
    p, b = result["pipeline"], result["bare"]
    ideal = p["ideal_sources_per_s"]
    lines = [
        "",
        f"== {result['scenario']}: AI {result['ai_latency_s'] * 1000:.0f} ms, images "
        f"{result['image_latency_s'] * 1000:.0f} ms; workers {result['layout']}",
        f"{'':34}{'pipeline':>12}{'bare':>12}{'pipe/bare':>12}",
    ]

    def row(label: str, key: str, spec: str = ".1f", ratio: bool = True) -> None:
        pv, bv = p[key], b[key]
        r = pv / bv if ratio and pv and bv else None
        lines.append(f"{label:34}{_fmt(pv, spec):>12}{_fmt(bv, spec):>12}{_fmt(r, '.2f'):>12}")

    row("sources/s", "sources_per_s", ".2f")
    row("tasks/s", "tasks_per_s", ".1f")
    row("p50 submit -> COMPLETED (s)", "p50_s", ".2f")
    row("p95 submit -> COMPLETED (s)", "p95_s", ".2f")
    row("peak worker RSS (MB)", "peak_worker_rss_mb", ".0f")
    row("DB queries/source (workers)", "db_queries_per_source", ".1f", ratio=False)
    row("DB transactions/source (all)", "db_transactions_per_source", ".1f", ratio=False)
    row("CPU cores busy (machine)", "cpu_cores_busy", ".2f", ratio=False)
    for name in p["cpu_ms_per_source"]:
        pv, bv = p["cpu_ms_per_source"][name], b["cpu_ms_per_source"].get(name)
        lines.append(f"{'CPU ms/source: ' + name:34}{_fmt(pv):>12}{_fmt(bv):>12}")

    def others(cpu: dict) -> float | None:
        # Busy time of the machine that none of our processes used: other
        # people's work on this machine, i.e. the noise of the run.
        if "machine" not in cpu:
            return None
        return cpu["machine"] - sum(v for k, v in cpu.items() if k != "machine")

    po, bo = others(p["cpu_ms_per_source"]), others(b["cpu_ms_per_source"])
    lines.append(f"{'CPU ms/source: not ours (noise)':34}{_fmt(po):>12}{_fmt(bo):>12}")
    lines.append(f"completed: pipeline {p['completed']}/{p['sources']}, bare {b['completed']}/{b['sources']}")
    if ideal:
        lines.append(
            f"ideal (concurrency / provider latency): {ideal:.2f} sources/s; achieved/ideal: "
            f"pipeline {p['sources_per_s'] / ideal:.2f}, bare {b['sources_per_s'] / ideal:.2f}"
        )
    else:
        lines.append("ideal: unbounded (no provider latency); achieved/ideal: -")
    per_task = [f"{name.split('.')[-1]} {count:g}" for name, count in p["db_queries_per_task"].items()]
    lines.append("DB queries per task execution: " + ", ".join(per_task))
    singles = result["single"]
    if singles:
        ttn = [s["time_to_note"] for s in singles]
        cps = [s["critical_path"]["total"] for s in singles]
        median = sorted(singles, key=lambda s: s["time_to_note"])[len(singles) // 2]
        cp = median["critical_path"]
        target = 1.1 * cp["total"] + 0.150
        lines.append(
            f"single source ({len(singles)} runs, one at a time): time-to-note median "
            f"{statistics.median(ttn) * 1000:.0f} ms (min {min(ttn) * 1000:.0f}, max {max(ttn) * 1000:.0f}); "
            f"critical path of provider calls median {statistics.median(cps) * 1000:.0f} ms"
        )
        lines.append(
            f"  median run: {median['time_to_note'] * 1000:.0f} ms vs critical path "
            f"{cp['total'] * 1000:.0f} ms (structure {cp['structure'] * 1000:.0f} + slowest image "
            f"{cp['slowest_image'] * 1000:.0f} + study tools {cp['study_tools'] * 1000:.0f}"
            f"{', quiz and flashcards overlapping' if cp['study_tools_overlap'] else ', in turn'}): "
            f"ratio {median['time_to_note'] / cp['total']:.2f}, "
            f"overhead {(median['time_to_note'] - cp['total']) * 1000:.0f} ms; "
            f"target 1.1 x path + 150 ms = {target * 1000:.0f} ms: "
            f"{'met' if median['time_to_note'] <= target else 'MISSED'}"
        )
        steps = [f"{job.lower()} {t0}-{t1}" for job, t0, t1 in median["timeline"]]
        lines.append("  timeline (ms after submit): " + "; ".join(steps))
    print("\n".join(lines), flush=True)


def summary(results: list[dict], args) -> None:
    print("\n== targets", flush=True)
    for result in results:
        p, b = result["pipeline"], result["bare"]
        name = result["scenario"]
        if result["ai_latency_s"] == 0 and result["image_latency_s"] == 0:
            ratio = p["sources_per_s"] / b["sources_per_s"]
            verdict = "met" if ratio >= 0.5 else "MISSED"
            print(f"{name}: throughput pipeline/bare {ratio:.2f} (target >= 0.5): {verdict}")
        elif p["ideal_sources_per_s"]:
            ratio = p["sources_per_s"] / p["ideal_sources_per_s"]
            print(
                f"{name}: achieved/ideal {ratio:.2f} (target >= 0.8): {'met' if ratio >= 0.8 else 'MISSED'}"
            )
        if result["single"]:
            singles = result["single"]
            median = sorted(singles, key=lambda s: s["time_to_note"])[len(singles) // 2]
            target = 1.1 * median["critical_path"]["total"] + 0.150
            print(
                f"{name}: single-source time-to-note {median['time_to_note'] * 1000:.0f} ms "
                f"<= 1.1 x {median['critical_path']['total'] * 1000:.0f} + 150 = {target * 1000:.0f} ms: "
                f"{'met' if median['time_to_note'] <= target else 'MISSED'}"
            )
    print(
        "queries per task are constant in V when tests/test_query_counts.py passes; "
        "per-task counts of this run are printed above."
    )


# --- command line ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument(
        "-S", "--sources", type=int, default=None, help="sources per run (default 200; --quick 20)"
    )
    parser.add_argument("-V", "--visuals", type=int, default=5, help="visuals per source (default 5)")
    parser.add_argument("--quick", action="store_true", help="a fast check: S=20, 3 single-source runs")
    parser.add_argument(
        "--single", type=int, default=None, help="single-source runs per scenario (default 7)"
    )
    parser.add_argument("--warmup", type=int, default=None, help="warm-up sources per run (default 8)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients submitting")
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="provider latency of the slow scenario"
    )
    parser.add_argument(
        "--scenarios",
        default="fast,slow",
        help="comma-separated: fast (no latency), slow (--latency-ms), fast-io, slow-procfile",
    )
    parser.add_argument("--layout-fast", default="procfile", help=f"worker layout of fast: {PRESETS}")
    parser.add_argument("--layout-slow", default="io", help="worker layout of slow (preset or spec)")
    parser.add_argument(
        "--postgres", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL"
    )
    parser.add_argument("--database", default="studynaut_bench", help="the benchmark's own database")
    parser.add_argument(
        "--redis-url", default="", help="an existing Redis DB to use (default: a private redis-server)"
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="DATABASE_CONN_MAX_AGE of the web app and the workers (default 60: persistent connections)",
    )
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    args = parser.parse_args(argv)
    args.sources = args.sources or (20 if args.quick else 200)
    args.single = args.single if args.single is not None else (3 if args.quick else 7)
    args.warmup = args.warmup if args.warmup is not None else (4 if args.quick else 8)
    latency = args.latency_ms / 1000
    layouts = {"fast": args.layout_fast, "slow": args.layout_slow}
    scenarios = []
    for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        base, _, layout = name.partition("-")
        if base not in ("fast", "slow"):
            parser.error(f"unknown scenario {name!r}")
        spec = parse_layout(layout or layouts[base])
        delay = latency if base == "slow" else 0.0
        scenarios.append(Scenario(name, delay, delay, spec))
    args.scenarios = scenarios
    return args


def machine() -> str:
    return (
        f"{platform.node()}: {psutil.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    print(f"machine: {machine()}", flush=True)
    print(
        f"S={args.sources} sources, V={args.visuals} visuals, DATABASE_CONN_MAX_AGE={args.conn_max_age}, "
        f"logs in {bench.tmp}",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        results = bench.run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        bench.close()
    summary(results, args)
    if args.json:
        figures = {"machine": machine(), "sources": args.sources, "visuals": args.visuals, "results": results}
        args.json.write_text(json.dumps(figures, indent=2))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
