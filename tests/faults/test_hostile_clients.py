"""Hostile clients against the real web server (gunicorn, started as the
fault suite starts it): each is refused or answered cheaply, and the API
keeps answering ordinary requests meanwhile.

Timings are reported (pytest -s), not asserted tightly: the machine may be
busy. What is asserted is what a frozen or flooded server cannot do: answer
the hostile request at all within a generous timeout, keep answering others,
and (for the health flood) never broadcast a worker ping.
"""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import threading
import time
from urllib.parse import urlparse

import pytest
import requests

from api.body_limits import SMALL_BODY_BYTES
from api.uploads import CAPTIONS_MAX_BYTES

from .conftest import Api

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

HOSTILE_TIMEOUT = 30


class Sampler(threading.Thread):
    """Ordinary requests (GET /api/sources/ with a token), one after
    another, timed."""

    def __init__(self, api: Api) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.latencies: list[float] = []
        self.statuses: list[int | str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                status = self.api._request("GET", "/api/sources/").status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.latencies.append(time.monotonic() - started)
            self.statuses.append(status)
            time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)

    def figures(self) -> str:
        if not self.latencies:
            return "no requests"
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return (
            f"{len(ordered)} requests, median {statistics.median(ordered) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
        )


def address(api: Api) -> tuple[str, int]:
    url = urlparse(api.base_url)
    return url.hostname, url.port


def raw_exchange(api: Api, head: str, body_chunks, *, timeout: float = 20) -> tuple[str, int]:
    """Send `head` then the chunks of the body, a few milliseconds apart (a
    client on a fast line, not one that fills the kernel's buffers at once),
    until the server answers: (the answer, bytes of body sent)."""
    sent = 0
    with socket.create_connection(address(api), timeout=timeout) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        deadline = time.monotonic() + timeout
        for chunk in body_chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
                continue
            sent += len(chunk)
            assert time.monotonic() < deadline, "the server neither read on nor answered"
            time.sleep(0.002)
        sock.setblocking(True)
        sock.settimeout(timeout)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer.decode("latin-1"), sent


def status_of(answer: str) -> int:
    return int(answer.split(" ", 2)[1])


# --- A caption file built to be slow -----------------------------------------------------------


def test_a_hostile_caption_upload_is_refused_while_the_api_keeps_answering(stack):
    api = stack.web().register()
    sampler = Sampler(api)
    sampler.start()
    time.sleep(1)
    baseline = sampler.figures()
    # The upload that froze both web workers: a line of text, then newlines,
    # as large as a caption file may be.
    hostile = b"Hello\n" + b"\n" * (CAPTIONS_MAX_BYTES - 6)

    started = time.monotonic()
    try:
        response = api._request(
            "POST",
            "/api/sources/",
            data={"kind": "CAPTIONS"},
            files={"file": ("lecture.srt", hostile)},
        )
    finally:
        took = time.monotonic() - started
        time.sleep(1)
        sampler.stop()

    print(f"\nhostile caption upload: answered {response.status_code} in {took:.2f} s")
    print(f"ordinary requests before it: {baseline}; all along: {sampler.figures()}")
    assert response.status_code == 415
    assert took < HOSTILE_TIMEOUT
    assert set(sampler.statuses) == {200}, sampler.statuses


# --- Bodies larger than anyone needs -----------------------------------------------------------


def test_an_anonymous_body_declared_huge_is_refused_before_it_is_sent(stack):
    api = stack.web()
    declared = 300 * 1024 * 1024
    head = (
        "POST /api/auth/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    # A well-formed file part (which the old code spooled to a temporary
    # file until the declared size), 1 MB at most: far short of 300 MB.
    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    chunks = [part] + [b"0" * 16 * 1024] * 64

    answer, sent = raw_exchange(api, head, chunks)

    print(f"\n300 MB declared: answered {answer.splitlines()[0]!r} after {sent:,} bytes sent")
    assert status_of(answer) == 413
    body = answer.split("\r\n\r\n", 1)[1]
    assert json.loads(body)["detail"].startswith("The request body has 314,572,800 bytes")


def test_a_chunked_body_is_cut_off_at_the_limit(stack):
    api = stack.web()
    head = (
        "POST /api/auth/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b" " * 16 * 1024
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    endless = (chunk for _ in range(10_000))  # 160 MB unless the server stops it

    answer, sent = raw_exchange(api, head, endless)

    print(f"\nendless chunked body: answered {answer.splitlines()[0]!r} after {sent:,} bytes sent")
    assert status_of(answer) == 413
    assert sent < 100 * SMALL_BODY_BYTES  # what went by before the answer came, not the 160 MB


def test_a_chunked_body_within_the_limit_is_read(stack):
    api = stack.web()

    response = requests.post(
        f"{api.base_url}/api/auth/register/",
        data=iter([b'{"username": "lin", ', b'"password": "correct horse battery staple 42"}']),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 201, response.text


# --- Polling the health check --------------------------------------------------------------------


def test_a_flood_of_health_probes_neither_pings_the_workers_nor_stalls_the_api(stack):
    api = stack.web().register()
    redis = stack.redis.client()
    publishes = lambda: redis.info("commandstats").get("cmdstat_publish", {}).get("calls", 0)  # noqa: E731
    pings = lambda: redis.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)  # noqa: E731
    sampler = Sampler(api)
    sampler.start()
    time.sleep(1)
    baseline = sampler.figures()
    sampler.latencies.clear()
    publishes_before, pings_before = publishes(), pings()
    answers: list[int | str] = []
    stop = threading.Event()

    def probe() -> None:
        with requests.Session() as session:
            session.trust_env = False
            while not stop.is_set():
                try:
                    answers.append(session.get(f"{api.base_url}/api/health/", timeout=30).status_code)
                except requests.RequestException as exc:
                    answers.append(type(exc).__name__)

    clients = [threading.Thread(target=probe, daemon=True) for _ in range(24)]
    for client in clients:
        client.start()
    time.sleep(5)
    stop.set()
    for client in clients:
        client.join(timeout=60)
    sampler.stop()

    counts = {answer: answers.count(answer) for answer in set(answers)}
    print(f"\n24 anonymous clients polling /api/health/ for 5 s: {counts}")
    print(f"ordinary requests before: {baseline}; during the flood: {sampler.figures()}")
    print(f"broker PINGs by the probes: {pings() - pings_before}")
    assert set(counts) <= {200, 429}, counts  # answered: healthy, or throttled
    assert counts.get(200, 0) > 0
    assert publishes() == publishes_before  # no worker ping: that is for staff, in the details
    assert set(sampler.statuses) == {200}, sampler.statuses
