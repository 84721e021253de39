"""No check of user input in a request takes more than linear time (SPEC
section 5): each check gets pathological input of the largest size it can
be sent, and must finish within a generous multiple of a linear baseline
measured on the same input in the same process, just before.

The baseline is a plain Python loop over the input (extrapolated from its
first MiB), testing each element: any check that looks at each character a bounded number of
times, or only at a bounded prefix, stays well within 20 times it; a
quadratic one (the SRT pattern that froze both web workers on a few tens of
KB of newlines) would take hours on these inputs. Each check runs in a
forked child that is killed when it overruns, so a regression fails the test
instead of hanging it. The figures are printed (pytest -s).
"""

import io
import multiprocessing
import time
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.body_limits import text_body_bytes
from api.errors import PayloadTooLarge, UnsupportedFileType
from api.parsers import DepthLimitedJSONParser
from api.uploads import CAPTIONS_MAX_BYTES, check_upload, display_filename
from pipeline.logging import redact

MIB = 1 << 20
FACTOR = 20
SLACK_SECONDS = 0.05
# A child that has not finished by then is killed (and the check failed).
KILL_AFTER_FACTOR = 200
KILL_AFTER_SLACK_SECONDS = 10.0


def linear_baseline(data: bytes | str) -> float:
    """Seconds a Python loop takes to visit every element of `data` and
    test it (extrapolated from the first MiB)."""
    sample = data[:MIB]
    started = time.perf_counter()
    sum(1 for element in sample if element)
    return (time.perf_counter() - started) * max(1.0, len(data) / max(1, len(sample)))


def _child(check: Callable, data, connection) -> None:
    connection.send(("baseline", linear_baseline(data)))
    started = time.perf_counter()
    try:
        check(data)
    except Exception as exc:  # an answer, not a hang: its type is reported
        outcome = type(exc).__name__
    else:
        outcome = "ok"
    connection.send(("check", time.perf_counter() - started, outcome))


def timed(check: Callable, data) -> tuple[float, float | None, str]:
    """(baseline, seconds the check took or None when it overran, outcome)."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(check, data, sending), daemon=True)
    child.start()
    try:
        assert receiving.poll(120), "the child never measured its baseline"
        _, baseline = receiving.recv()
        if not receiving.poll(KILL_AFTER_FACTOR * baseline + KILL_AFTER_SLACK_SECONDS):
            return baseline, None, "killed"
        _, elapsed, outcome = receiving.recv()
        return baseline, elapsed, outcome
    finally:
        child.kill()
        child.join()


def assert_linear(check: Callable, data, label: str) -> str:
    baseline, elapsed, outcome = timed(check, data)
    print(
        f"{label}: {len(data):,} elements, baseline {baseline * 1000:.1f} ms, "
        f"check {'overran' if elapsed is None else f'{elapsed * 1000:.1f} ms'} ({outcome})"
    )
    assert elapsed is not None, f"{label} did not finish within {KILL_AFTER_FACTOR} x the linear baseline"
    assert elapsed <= FACTOR * baseline + SLACK_SECONDS, (label, elapsed, baseline)
    return outcome


# --- Uploads ----------------------------------------------------------------------------------


def captions_check(content: bytes) -> None:
    check_upload(kind="CAPTIONS", upload=SimpleUploadedFile("x.srt", content))


CAPTIONS = CAPTIONS_MAX_BYTES
HOSTILE_CAPTIONS = {
    # The upload that froze the web workers: a line, then only newlines.
    "line-then-newlines": b"Hello\n" + b"\n" * (CAPTIONS - 6),
    "carriage-returns": b"1\r" + b"\r" * (CAPTIONS - 2),
    "spaces-after-an-index": b"1\n" + b" " * (CAPTIONS - 2),
    "tabs-and-newlines": b"\t\n" * (CAPTIONS // 2),
    "almost-a-timing-line": b"1\n00:00:00,000 " + b" " * (CAPTIONS - 30) + b"-->",
    "index-lines-only": b"1\n" * (CAPTIONS // 2),
    "digits-only": b"1" * CAPTIONS,
    "utf16-newlines": "\ufeff".encode("utf-16-le") + "\n".encode("utf-16-le") * (CAPTIONS // 2 - 1),
}


@pytest.mark.parametrize("name", list(HOSTILE_CAPTIONS))
def test_the_captions_check_is_linear_on_hostile_input(name):
    outcome = assert_linear(captions_check, HOSTILE_CAPTIONS[name], f"captions {name}")

    assert outcome == UnsupportedFileType.__name__


def test_the_captions_check_still_accepts_a_large_real_file():
    cue = "{n}\n00:{m:02d}:{s:02d},000 --> 00:{m:02d}:{s:02d},900\nPlants turn light into sugar.\n\n"
    text = "".join(cue.format(n=n, m=(n // 60) % 60, s=n % 60) for n in range(1, 100_000))
    content = text.encode()[:CAPTIONS]

    assert assert_linear(captions_check, content, "captions real file") == "ok"


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("PDF", b"\x00" * 100 + b"%PDF-"),
        ("PDF", b"%PDF" + b"-" * 1000),
        ("AUDIO", b"ID3" + b"\x00" * 100),
        ("AUDIO", b"\xff" * 100),
        ("AUDIO", b"RIFF" + b"\x00" * 100),
    ],
    ids=["pdf-late-magic", "pdf-almost", "audio-id3-only", "audio-sync-bytes", "audio-riff-only"],
)
def test_the_pdf_and_audio_checks_are_linear_on_hostile_input(settings, kind, content):
    size = settings.MAX_UPLOAD_BYTES
    data = (content * (size // len(content) + 1))[:size]

    def check(raw: bytes) -> None:
        check_upload(kind=kind, upload=SimpleUploadedFile("x", raw))

    outcome = assert_linear(check, data, f"{kind} {content[:8]!r}")

    assert outcome in {UnsupportedFileType.__name__, "ok"}


def test_the_size_check_reads_nothing_of_a_file_over_the_limit(settings):
    data = b"\n" * (CAPTIONS + 1)

    assert assert_linear(captions_check, data, "captions over the limit") == PayloadTooLarge.__name__


@pytest.mark.parametrize(
    "name",
    ["/" * MIB, "\\" * MIB, "\u202e" * MIB, " \t" * (MIB // 2), "a" * MIB],
    ids=["slashes", "backslashes", "bidi-controls", "whitespace", "long"],
)
def test_the_display_name_is_linear(name):
    assert_linear(display_filename, name, "display_filename")


# --- JSON bodies --------------------------------------------------------------------------------


def parse_json(body: bytes) -> None:
    DepthLimitedJSONParser().parse(io.BytesIO(body), "application/json", {})


def json_body(unit: str, *, prefix: str = "", suffix: str = "") -> bytes:
    size = text_body_bytes()
    room = size - len(prefix) - len(suffix)
    return (prefix + unit * (room // len(unit)) + suffix).encode()


HOSTILE_JSON = {
    "deep-arrays": json_body("["),
    "deep-objects": json_body('{"a":'),
    "many-empty-arrays": json_body("[],", prefix="[", suffix="0]"),
    "flat-and-nested-alternating": json_body("[0],", prefix="[", suffix="0]"),
    "escaped-quotes-unterminated": json_body('"\\"', prefix="["),
    "backslashes-in-a-string": json_body("\\\\", prefix='["', suffix='"]'),
    "brackets-in-a-string": json_body("[{", prefix='["', suffix='"]'),
    "many-short-strings": json_body('"",', prefix="[", suffix='""]'),
    "unterminated-string": json_body("a", prefix='["'),
}


@pytest.mark.parametrize("name", list(HOSTILE_JSON))
def test_the_json_parser_is_linear_on_hostile_input(name):
    assert_linear(parse_json, HOSTILE_JSON[name], f"json {name}")


# --- Log redaction (sees provider errors and request text) --------------------------------------


@pytest.mark.parametrize(
    "message",
    ["key=" * (MIB // 4), "api_key" * (MIB // 7), "token=" + "a" * MIB, "k" * MIB, "=" * MIB],
    ids=["repeated-key-equals", "repeated-param-name", "one-long-token", "letters", "equals"],
)
def test_log_redaction_is_linear(message, settings):
    settings.OPENAI_API_KEY = "sk-linear-check-0123456789"

    assert_linear(redact, message, "redact")
