"""The Studynaut Celery app, instrumented for the benchmark only.

`celery -A bench.pipeline_app worker ...` runs the very same app, tasks and
settings as `celery -A studynaut worker ...`, plus two measurements that
report to Redis (BENCH_REDIS_URL), never to the database:

- database queries per task: every Django connection of the worker gets an
  execute wrapper (Django's `connection.execute_wrapper` hook) counting the
  queries of the running thread; at `task_postrun` (after the job-record
  handlers, whose queries are counted too) the count is added to
  `bench:queries` under the task's name and `bench:tasks` counts the task;
- provider calls: the OpenAI and SerpAPI providers' request methods are
  timed and each call is pushed to `bench:calls:<token>` as JSON
  `{"kind", "t0", "t1"}` (wall clock), for the critical path of a source.
  The token (`bench-src-...`) is in the source's text and, through the fake
  AI's answer, in every later prompt and image description (see
  bench/fakes_server.py): calls made in helper threads are attributed too.
"""

import json
import os
import re
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studynaut.settings")

import django

django.setup()

import redis  # noqa: E402
from celery import signals  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.dispatch import receiver  # noqa: E402

import pipeline.signals  # noqa: E402, F401  (the job-record handlers connect first)
from pipeline.providers import openai_ai, serpapi_images  # noqa: E402
from studynaut.celery import app  # noqa: E402

__all__ = ["app"]

_local = threading.local()
_clients: dict[int, redis.Redis] = {}


def _redis() -> redis.Redis:
    # One client per process: prefork children must not share the parent's sockets.
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        client = _clients[pid] = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return client


def _count_query(execute, sql, params, many, context):
    _local.queries = getattr(_local, "queries", 0) + 1
    return execute(sql, params, many, context)


@receiver(connection_created)
def _instrument_connection(sender=None, connection=None, **_) -> None:
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


@signals.task_postrun.connect
def _report_queries(task=None, **_) -> None:
    queries, _local.queries = getattr(_local, "queries", 0), 0
    name = getattr(task, "name", "?")
    pipe = _redis().pipeline(transaction=False)
    pipe.hincrby("bench:queries", name, queries)
    pipe.hincrby("bench:tasks", name, 1)
    pipe.execute()


TOKEN = re.compile(r"bench-src-[0-9a-z-]+")


def _timed(describe, method):
    """`method` timed; `describe(args, kwargs)` gives (kind, text holding the token)."""

    def timed(self, *args, **kwargs):
        t0 = time.time()
        try:
            return method(self, *args, **kwargs)
        finally:
            t1 = time.time()
            kind, text = describe(args, kwargs)
            if match := TOKEN.search(text or ""):
                record = json.dumps({"kind": kind, "t0": t0, "t1": t1})
                _redis().rpush(f"bench:calls:{match.group(0)}", record)

    timed.__wrapped__ = method
    return timed


openai_ai.OpenAIProvider._request = _timed(
    lambda args, kwargs: (args[0], args[1]), openai_ai.OpenAIProvider._request
)
serpapi_images.SerpAPIImageProvider.find_image = _timed(
    lambda args, kwargs: ("image", kwargs.get("description")), serpapi_images.SerpAPIImageProvider.find_image
)
