"""The floor: a bare Celery canvas of the pipeline's shape, with no Django
and no database.

    chain(
      process_text                 (sleeps one AI latency)
      fan_out                      replaces itself with
        chord(visual x V) -> assemble   (each visual sleeps one image latency)
      study_tools                  (sleeps BENCH_STUDY_TOOLS_CALLS AI latencies)
    )

Same broker and result backend as the pipeline (BENCH_BROKER_URL), the same
delivery settings as studynaut/settings.py (late acks, prefetch 1, JSON,
task events), and its own queues (bare-bookkeeping, bare-ai, bare-images)
routed like the pipeline's. The last task records its finish time in the
Redis hash `bench:bare:done` (field: the canvas's key).

    celery -A bench.bare worker -Q bare-ai ...
"""

import os
import time

import redis
from celery import Celery, chain, chord

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/11")
AI_LATENCY = float(os.environ.get("BENCH_AI_LATENCY", "0"))
IMAGE_LATENCY = float(os.environ.get("BENCH_IMAGE_LATENCY", "0"))
STUDY_TOOLS_CALLS = int(os.environ.get("BENCH_STUDY_TOOLS_CALLS", "1"))

app = Celery("bench_bare", broker=BROKER_URL, backend=BROKER_URL)
app.conf.update(
    # Mirrors studynaut/settings.py, so that only the application's own work differs.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_send_sent_event=False,
    worker_send_task_events=False,
    result_expires=24 * 3600,
    broker_transport_options={"visibility_timeout": 600},
    result_backend_transport_options={"visibility_timeout": 600},
    broker_connection_retry_on_startup=True,
    task_default_queue="bare-bookkeeping",
    task_routes={
        "bare.process_text": {"queue": "bare-ai"},
        "bare.study_tools": {"queue": "bare-ai"},
        "bare.visual": {"queue": "bare-images"},
    },
)

_clients: dict[int, redis.Redis] = {}


def _redis() -> redis.Redis:
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = redis.Redis.from_url(BROKER_URL)
    return _clients[pid]


def _wait(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


@app.task(name="bare.process_text")
def process_text(*, key: str) -> None:
    _wait(AI_LATENCY)


@app.task(name="bare.fan_out", bind=True)
def fan_out(self, *, key: str, visuals: int):
    body = assemble.si(key=key)
    if visuals == 0:
        raise self.replace(body)
    raise self.replace(chord([visual.si(key=key, number=n) for n in range(visuals)], body))


@app.task(name="bare.visual")
def visual(*, key: str, number: int) -> int:
    _wait(IMAGE_LATENCY)
    return number


@app.task(name="bare.assemble")
def assemble(*, key: str) -> None:
    pass


@app.task(name="bare.study_tools")
def study_tools(*, key: str) -> None:
    _wait(AI_LATENCY * STUDY_TOOLS_CALLS)
    _redis().hset("bench:bare:done", key, repr(time.time()))


def signature(*, key: str, visuals: int):
    return chain(
        process_text.si(key=key),
        fan_out.si(key=key, visuals=visuals),
        study_tools.si(key=key),
    )
