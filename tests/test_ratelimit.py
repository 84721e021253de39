"""The shared requests-per-minute limiter, on Redis (db 14) and in process.

Windows are shortened with ``per_seconds`` so the tests take seconds: e.g. 10
requests per 2 seconds, where the bound is ``rpm + burst`` per window.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.test import override_settings

from pipeline import coordination, ratelimit
from pipeline.errors import PipelineError, RateLimited

REDIS_URL = "redis://127.0.0.1:6379/14"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def prefix():
    """A key prefix of this test only; its keys are deleted afterwards."""
    value = f"test-ratelimit:{uuid.uuid4().hex[:12]}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=value + "*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["redis", "memory"])
def backend(request, prefix):
    shared = REDIS_URL if request.param == "redis" else ""
    with override_settings(SHARED_REDIS_URL=shared, REDIS_KEY_PREFIX=prefix):
        ratelimit.reset_memory()
        yield request.param
        ratelimit.reset_memory()


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of times within any window of this length (minus a little timing slack)."""
    times = sorted(times)
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= window - 0.05:
            j += 1
        best = max(best, i - j + 1)
    return best


def hammer(provider: str, rpm: int, per_seconds: float, duration: float, out: list[float]) -> None:
    end = time.time() + duration
    while time.time() < end:
        ratelimit.acquire(provider, rpm, max_wait=10, per_seconds=per_seconds)
        out.append(time.time())


def test_the_limit_holds_across_threads(backend):
    rpm, per_seconds, duration = 10, 2.0, 3.0
    burst = ratelimit.default_burst(rpm)
    results: list[list[float]] = [[] for _ in range(4)]
    threads = [
        threading.Thread(target=hammer, args=("threads", rpm, per_seconds, duration, out)) for out in results
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    times = [t for out in results for t in out]
    assert max_in_window(times, per_seconds) <= rpm + burst
    # And it is a limit, not a stop: about duration / interval + burst requests got through.
    assert len(times) >= 12


PROCESS_SCRIPT = """
import json, os, sys, time
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
from django.test import override_settings
from pipeline import coordination, ratelimit

provider, prefix, start_at, duration, rpm, per_seconds = sys.argv[1:]
start_at, duration, rpm, per_seconds = float(start_at), float(duration), int(rpm), float(per_seconds)
with override_settings(SHARED_REDIS_URL=os.environ["RL_REDIS_URL"], REDIS_KEY_PREFIX=prefix):
    while time.time() < start_at:
        time.sleep(0.005)
    times = []
    while time.time() < start_at + duration:
        ratelimit.acquire(provider, rpm, max_wait=10, per_seconds=per_seconds)
        times.append(time.time())
print(json.dumps(times))
"""


def test_the_limit_holds_across_processes(prefix):
    rpm, per_seconds, duration = 10, 2.0, 3.0
    start_at = time.time() + 2.5  # time for both interpreters to start
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RL_REDIS_URL": REDIS_URL}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                PROCESS_SCRIPT,
                "procs",
                prefix,
                str(start_at),
                str(duration),
                str(rpm),
                str(per_seconds),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))

    times = [t for out in outputs for t in out]
    assert all(out for out in outputs), "both processes got requests through"
    assert max_in_window(times, per_seconds) <= rpm + ratelimit.default_burst(rpm)
    assert len(times) >= 12


def test_a_burst_passes_at_once_then_requests_are_spaced(backend):
    rpm, per_seconds = 60, 6.0  # one every 0.1 s, burst 6
    started = time.monotonic()
    for _ in range(6):
        ratelimit.acquire("burst", rpm, max_wait=5, per_seconds=per_seconds)
    assert time.monotonic() - started < 0.08
    ratelimit.acquire("burst", rpm, max_wait=5, per_seconds=per_seconds)
    ratelimit.acquire("burst", rpm, max_wait=5, per_seconds=per_seconds)
    assert time.monotonic() - started >= 0.15


def test_providers_have_separate_budgets(backend):
    ratelimit.acquire("one", 1, max_wait=0)
    ratelimit.acquire("two", 1, max_wait=0)
    with pytest.raises(RateLimited):
        ratelimit.acquire("one", 1, max_wait=0)


def test_waiting_longer_than_max_wait_raises_rate_limited_not_an_error(backend):
    ratelimit.acquire("slow", 1, max_wait=1)  # the one request of this minute
    started = time.monotonic()

    with pytest.raises(RateLimited) as caught:
        ratelimit.acquire("slow", 1, max_wait=0.2)

    assert time.monotonic() - started < 0.1  # it does not sleep first when it cannot make it
    assert not isinstance(caught.value, Exception | PipelineError)
    assert caught.value.provider == "slow"
    assert 50 < caught.value.retry_after <= 60


def test_pause_blocks_every_caller(backend):
    ratelimit.pause("paused", 0.5)
    waited = []

    def call():
        started = time.monotonic()
        ratelimit.acquire("paused", 100_000, max_wait=5)
        waited.append(time.monotonic() - started)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(waited) == 3
    assert min(waited) >= 0.4
    assert max(waited) < 2


def test_a_pause_longer_than_max_wait_fails_fast(backend):
    ratelimit.pause("paused", 5)
    with pytest.raises(RateLimited) as caught:
        ratelimit.acquire("paused", 100_000, max_wait=0.2)
    assert not isinstance(caught.value, Exception | PipelineError)
    assert 4 < caught.value.retry_after <= 5


def test_a_pause_is_never_shortened(backend):
    ratelimit.pause("paused", 5)
    ratelimit.pause("paused", 0.1)
    time.sleep(0.2)
    with pytest.raises(RateLimited):
        ratelimit.acquire("paused", 100_000, max_wait=0.5)


def test_a_pause_in_redis_expires_by_itself(prefix):
    with override_settings(SHARED_REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix):
        ratelimit.pause("expiring", 0.3)
        client = redis.Redis.from_url(REDIS_URL)
        ttls = [client.pttl(key) for key in client.scan_iter(match=prefix + "*")]
        client.close()
        assert ttls and all(0 < ttl <= 300 for ttl in ttls)


def test_zero_rpm_means_no_limit(backend):
    for _ in range(100):
        ratelimit.acquire("free", 0, max_wait=0)


def test_an_unreachable_redis_lets_requests_through(prefix):
    with override_settings(SHARED_REDIS_URL="redis://127.0.0.1:1/0", REDIS_KEY_PREFIX=prefix):
        for _ in range(3):
            ratelimit.acquire("down", 1, max_wait=0)
        ratelimit.pause("down", 1)


def test_the_redis_client_is_reused(prefix):
    with override_settings(SHARED_REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix):
        ratelimit.acquire("reuse", 1000, max_wait=1)
        first = coordination.client()
        ratelimit.acquire("reuse", 1000, max_wait=1)
        assert coordination.client() is first
