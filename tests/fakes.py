"""Fake external services for tests: nothing here ever reaches a real host.

Two HTTP servers on 127.0.0.1 (an ephemeral port, a daemon thread each) that
speak the real wire formats, so the real SDKs are exercised end to end:

- ``FakeOpenAI``: ``POST /v1/chat/completions`` and
  ``POST /v1/audio/transcriptions``. Point the SDK at ``fake.base_url``
  (it ends in ``/v1``), e.g. ``override_settings(OPENAI_BASE_URL=fake.base_url)``.
- ``FakeSerpAPI``: ``GET /search`` (what google-search-results 2.4.2 requests:
  ``{BACKEND}/search?...&output=json``) and ``GET /search.json``. Point the
  client at ``fake.base_url`` (no path) with ``SERPAPI_BASE_URL``.

And, for YouTube, ``fake_youtube_session(...)``: a ``requests.Session`` whose
transport serves canned YouTube pages (watch page, innertube player JSON,
timedtext XML) in the shapes youtube-transcript-api 1.2.5 parses; any other
host gets a connection error. The same fake (``FakeYouTubeAdapter``) also
answers what yt-dlp reads (title, duration, chapters, an audio format) and
serves the audio; ``adapter.proxy_app`` puts it behind the intercepting
proxy of tests/fake_proxy.py, which is how both libraries reach it through
``YOUTUBE_PROXY_URL``.

For audio, ``tone_audio(words)`` makes a recording whose words
``hear_tones`` can tell back, and ``transcribe_tones()`` is a FakeOpenAI
behaviour that transcribes the uploaded part for real (see "Audio that
says words" below).

Scripting (the same for both servers)
-------------------------------------
Every request is answered by the next *behaviour* queued for its call kind,
else by that kind's default, else by ``ok()``. Behaviours are plain dicts
(JSON-serialisable, so other processes can script a server over HTTP)::

    fake.script("quiz", [error(429, retry_after=0), error(429), ok()])
    fake.fail_always("lesson_structure", 500)       # default for that kind
    fake.set_default("*", delay(2.0))                # "*" = any kind
    fake.requests                                    # [Recorded(path, kind, time, ...)]
    fake.count("quiz")
    fake.reset()

Call kinds: FakeOpenAI detects ``lesson_structure``, ``quiz`` or
``flashcards`` from the marker ``(studynaut call: KIND)`` that the OpenAI
provider writes into its system prompt (falling back to keywords), and uses
``transcription`` for the audio endpoint. FakeSerpAPI has one kind,
``images`` (``script()`` may omit it).

Behaviours: ``ok(data=None)`` (default answer, or ``data`` as the JSON
content; for SerpAPI ``ok(originals=[...])`` or ``ok(data={...})``),
``error(status, message=..., retry_after=None)``, ``delay(seconds, then=ok())``,
``invalid_json()``, ``schema_violation()``, ``truncated()``
(``finish_reason: "length"``), ``refusal(text)``, ``error_body(message)``
(SerpAPI's 200 + ``{"error": ...}``), ``raw(status, body, headers)``, and
in-process only ``respond(fn)`` where ``fn(recorded) -> data``.

Control endpoints (for a server in another process, or a worker that needs
a different script): ``POST /_fake/script`` with
``{"kind": ..., "behaviours": [...]}``, ``POST /_fake/default`` with
``{"kind": ..., "behaviour": {...}}``, ``POST /_fake/reset``,
``GET /_fake/requests``. ``python -m tests.fakes openai|serpapi [--port N]``
runs one in the foreground and prints its base URL.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

if TYPE_CHECKING:
    from tests.fake_proxy import ProxiedRequest

# --- behaviours ---------------------------------------------------------------


def ok(data: Any = None, *, originals: list[str] | None = None, usage: tuple[int, int] = (11, 7)) -> dict:
    """A successful answer: the default one, or ``data`` as the content."""
    behaviour: dict = {"kind": "ok", "usage": list(usage)}
    if data is not None:
        behaviour["data"] = data
    if originals is not None:
        behaviour["originals"] = list(originals)
    return behaviour


def error(
    status: int,
    message: str | None = None,
    *,
    retry_after: float | None = None,
    code: str | None = None,
    type: str | None = None,
) -> dict:
    """HTTP ``status`` with the service's error body (and ``Retry-After``)."""
    return {
        "kind": "error",
        "status": status,
        "message": message or f"fake error {status}",
        "retry_after": retry_after,
        "code": code,
        "type": type,
    }


def delay(seconds: float, then: dict | None = None) -> dict:
    """Wait ``seconds`` (to make clients time out), then behave as ``then``."""
    return {"kind": "delay", "seconds": seconds, "then": then or ok()}


def invalid_json(text: str = "this is {not json") -> dict:
    """OpenAI: message content that is not JSON. SerpAPI: a body that is not JSON."""
    return {"kind": "invalid_json", "text": text}


def schema_violation() -> dict:
    """A JSON object that none of the three AI schemas accepts."""
    return {"kind": "ok", "data": {"unexpected": True, "structure": [], "questions": [], "flashcards": []}}


def truncated() -> dict:
    """OpenAI: ``finish_reason: "length"`` with a cut-off content."""
    return {"kind": "truncated"}


def refusal(text: str = "I'm sorry, I can't help with that.") -> dict:
    """OpenAI: the model refuses (``message.refusal`` set, content null)."""
    return {"kind": "refusal", "text": text}


def error_body(message: str, status: int = 200) -> dict:
    """SerpAPI: ``{"error": message}`` (with 200, as SerpAPI does for many errors)."""
    return {"kind": "error_body", "message": message, "status": status}


def raw(status: int, body: str | dict, headers: dict | None = None) -> dict:
    """Any status, body (a dict is sent as JSON) and headers."""
    return {"kind": "raw", "status": status, "body": body, "headers": headers or {}}


def respond(fn: Callable[[Recorded], Any]) -> dict:
    """In-process only: ``fn(recorded_request)`` returns the answer's data."""
    return {"kind": "respond", "fn": fn}


def choose(fn: Callable[[Recorded], dict]) -> dict:
    """In-process only: ``fn(recorded_request)`` returns the behaviour for
    that request (an error for one part of a text, ``ok()`` for the others)."""
    return {"kind": "choose", "fn": fn}


# --- the server machinery -----------------------------------------------------


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    kind: str
    time: float
    method: str = "GET"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (filename, size)
    uploads: dict[str, bytes] = field(default_factory=dict, repr=False)  # name -> the file's bytes

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "uploads"}


class _Reply:
    def __init__(self, status: int, body: bytes | str | dict, headers: dict | None = None) -> None:
        self.status = status
        if isinstance(body, dict | list):
            body = json.dumps(body)
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = {"Content-Type": "application/json", **(headers or {})}


class FakeServer:
    """Base of the fakes: a scriptable HTTP server on 127.0.0.1."""

    default_kind = "default"

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = defaultdict(deque)
        self._defaults: dict[str, dict] = {}
        self._requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=type(self).__name__,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the fake first"
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # scripting
    def script(self, kind: str, behaviours: list[dict]) -> None:
        """Queue ``behaviours`` for requests of ``kind`` ("*" = any kind), consumed in order."""
        with self._lock:
            self._queues[kind].extend(behaviours)

    def set_default(self, kind: str, behaviour: dict | None) -> None:
        """Answer every request of ``kind`` with ``behaviour`` once its queue is empty (None: ok())."""
        with self._lock:
            if behaviour is None:
                self._defaults.pop(kind, None)
            else:
                self._defaults[kind] = behaviour

    def fail_always(self, kind: str, status: int, *, retry_after: float | None = None) -> None:
        self.set_default(kind, error(status, retry_after=retry_after))

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def calls(self, kind: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if kind is None or r.kind == kind]

    def count(self, kind: str | None = None) -> int:
        return len(self.calls(kind))

    def _next_behaviour(self, kind: str) -> dict:
        with self._lock:
            for key in (kind, "*"):
                if self._queues[key]:
                    return self._queues[key].popleft()
            return self._defaults.get(kind) or self._defaults.get("*") or ok()

    # request handling
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        try:
            reply = self._dispatch(handler, method)
        except Exception as exc:  # a bug in a fake should show, not hang the client
            reply = _Reply(599, {"error": {"message": f"fake crashed: {exc!r}", "type": "fake"}})
        if reply is None:  # the connection is to be dropped
            handler.close_connection = True
            return
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            handler.close_connection = True

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> _Reply | None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if split.path.startswith("/_fake/"):
            return self._control(method, split.path, body)
        recorded = Recorded(
            path=split.path,
            kind="",
            time=time.time(),
            method=method,
            query=query,
            headers={k.lower(): v for k, v in handler.headers.items()},
        )
        content_type = handler.headers.get("Content-Type", "")
        if body and content_type.startswith("application/json"):
            try:
                recorded.json = json.loads(body)
            except ValueError:
                recorded.json = None
        elif body and content_type.startswith("multipart/form-data"):
            recorded.form, recorded.files, recorded.uploads = _parse_multipart(content_type, body)
        route = self._route(method, split.path, recorded)
        if route is None:
            return _Reply(404, {"error": {"message": f"no route {method} {split.path}", "type": "fake"}})
        recorded.kind = route
        with self._lock:
            self._requests.append(recorded)
        behaviour = self._next_behaviour(route)
        if behaviour["kind"] == "choose":
            behaviour = behaviour["fn"](recorded)
        while behaviour["kind"] == "delay":
            if self._stopping.wait(behaviour["seconds"]):
                return None
            behaviour = behaviour["then"]
        return self._answer(behaviour, recorded)

    def _control(self, method: str, path: str, body: bytes) -> _Reply:
        payload = json.loads(body) if body else {}
        if path == "/_fake/script" and method == "POST":
            self.script(payload.get("kind", self.default_kind), payload["behaviours"])
        elif path == "/_fake/default" and method == "POST":
            self.set_default(payload.get("kind", self.default_kind), payload.get("behaviour"))
        elif path == "/_fake/reset" and method == "POST":
            self.reset()
        elif path == "/_fake/requests" and method == "GET":
            return _Reply(200, json.dumps([r.as_dict() for r in self.requests], default=str))
        else:
            return _Reply(404, {"error": "unknown control path"})
        return _Reply(200, {"ok": True})

    def _route(self, method: str, path: str, recorded: Recorded) -> str | None:
        raise NotImplementedError

    def _answer(self, behaviour: dict, recorded: Recorded) -> _Reply:
        raise NotImplementedError


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, int]], dict[str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    form: dict[str, str] = {}
    files: dict[str, tuple[str, int]] = {}
    uploads: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = (filename, len(payload))
            uploads[name] = payload
        elif name in form:  # a repeated field (timestamp_granularities[])
            form[name] += "," + payload.decode("utf-8", "replace")
        else:
            form[name] = payload.decode("utf-8", "replace")
    return form, files, uploads


# --- OpenAI -------------------------------------------------------------------

_CALL_MARKER = re.compile(r"\(studynaut call: (lesson_structure|quiz|flashcards)\)")
_SOURCE = re.compile(r"<source[^>]*>\n?(.*?)\n?</source>", re.S)


def _detect_call(payload: Any) -> str:
    messages = payload.get("messages", []) if isinstance(payload, dict) else []
    text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    if match := _CALL_MARKER.search(text):
        return match.group(1)
    lowered = text.lower()
    if "flashcard" in lowered:
        return "flashcards"
    if "quiz" in lowered or "answerindex" in lowered:
        return "quiz"
    return "lesson_structure"


def source_text(recorded: Recorded) -> str:
    """The study text the client sent (inside <source> tags if present)."""
    messages = (recorded.json or {}).get("messages", [])
    user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    match = _SOURCE.search(user)
    return match.group(1) if match else user


def default_answer(call: str, text: str) -> dict:
    """The answer FakeOpenAI gives by default: valid for the call's schema.

    The lesson structure quotes the start and the end of the text it was
    given (so tests can see which part of a long text reached the note) and
    has two ``[VISUAL::...]`` placeholders.
    """
    words = text.split()
    head = " ".join(words[:12]) or "nothing"
    tail = " ".join(words[-12:]) or "nothing"
    if call == "quiz":
        return {
            "questions": [
                {
                    "question": f"Which statement matches the text about {head[:60]}?",
                    "options": ["The first statement", "The second statement", "The third statement"],
                    "answerIndex": 0,
                    "explanation": "The text says so.",
                },
                {
                    "question": "What is true of the end of the text?",
                    "options": [f"It ends with: {tail[:80]}", "It has no end"],
                    "answerIndex": 0,
                    "explanation": "See the last paragraph.",
                },
            ]
        }
    if call == "flashcards":
        return {
            "flashcards": [
                {"front": "Beginning", "back": head},
                {"front": "Ending", "back": tail},
            ]
        }
    return {
        "title": f"Fake lesson: {' '.join(words[:5]) or 'untitled'}"[:200],
        "structure": [
            {
                "heading": "Overview",
                "content": f"It begins: {head}.\n\n[VISUAL::A labelled diagram of the main idea]",
            },
            {
                "heading": "Details",
                "content": f"It ends: {tail}.\n\n[VISUAL::A photograph of a worked example]",
            },
        ],
        "visualOpportunities": [
            {"description": "A labelled diagram of the main idea", "searchQuery": "main idea diagram"},
            {"description": "A photograph of a worked example", "searchQuery": "worked example photo"},
        ],
    }


def verbose_transcription(segments: list[tuple[float, float, str]], *, language: str = "english") -> dict:
    """A ``response_format=verbose_json`` answer: ``(start, end, text)`` phrases."""
    return {
        "task": "transcribe",
        "language": language,
        "duration": max((end for _, end, _ in segments), default=0.0),
        "text": " ".join(text.strip() for _, _, text in segments),
        "segments": [
            {
                "id": index,
                "seek": 0,
                "start": start,
                "end": end,
                "text": f" {text.strip()}",
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
            for index, (start, end, text) in enumerate(segments)
        ],
        "usage": {"type": "duration", "seconds": 3},
    }


class FakeOpenAI(FakeServer):
    """An OpenAI-compatible server: chat completions and audio transcriptions."""

    default_kind = "lesson_structure"
    transcription_text = "This is the fake transcription of the lecture."

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def _route(self, method: str, path: str, recorded: Recorded) -> str | None:
        if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
            return _detect_call(recorded.json)
        if method == "POST" and path.rstrip("/").endswith("/audio/transcriptions"):
            return "transcription"
        return None

    def _answer(self, behaviour: dict, recorded: Recorded) -> _Reply:
        kind = behaviour["kind"]
        if kind == "error":
            headers = {}
            if behaviour.get("retry_after") is not None:
                headers["Retry-After"] = _seconds(behaviour["retry_after"])
            body = {
                "error": {
                    "message": behaviour["message"],
                    "type": behaviour.get("type") or _error_type(behaviour["status"]),
                    "param": None,
                    "code": behaviour.get("code"),
                }
            }
            return _Reply(behaviour["status"], body, headers)
        if kind == "raw":
            return _Reply(behaviour["status"], behaviour["body"], behaviour.get("headers"))
        usage = behaviour.get("usage") or [11, 7]
        if recorded.kind == "transcription":
            if kind == "invalid_json":
                return _Reply(200, behaviour["text"])
            data = behaviour.get("data")
            if kind == "respond":
                data = behaviour["fn"](recorded)
            if isinstance(data, dict):
                return _Reply(200, data)
            text = data if isinstance(data, str) else self.transcription_text
            if recorded.form.get("response_format") == "verbose_json":
                return _Reply(200, verbose_transcription([(0.0, 3.0, text)]))
            return _Reply(200, {"text": text, "usage": {"type": "duration", "seconds": 3}})
        finish_reason = "stop"
        refusal_text = None
        if kind == "ok":
            data = behaviour.get("data")
            content = json.dumps(
                data if data is not None else default_answer(recorded.kind, source_text(recorded))
            )
        elif kind == "respond":
            content = json.dumps(behaviour["fn"](recorded))
        elif kind == "invalid_json":
            content = behaviour["text"]
        elif kind == "truncated":
            content = json.dumps(default_answer(recorded.kind, source_text(recorded)))[:40]
            finish_reason = "length"
        elif kind == "refusal":
            content = None
            refusal_text = behaviour["text"]
        else:
            raise ValueError(f"unknown behaviour {kind!r}")
        model = (recorded.json or {}).get("model", "fake-model")
        return _Reply(
            200,
            {
                "id": f"chatcmpl-fake{len(self._requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal_text},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": usage[0],
                    "completion_tokens": usage[1],
                    "total_tokens": usage[0] + usage[1],
                },
            },
        )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status == 401:
        return "authentication_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


# --- SerpAPI ------------------------------------------------------------------


class FakeSerpAPI(FakeServer):
    """SerpAPI's search endpoint, answering Google Images searches."""

    default_kind = "images"

    @property
    def base_url(self) -> str:
        return self.root_url

    def script(self, kind_or_behaviours: str | list[dict], behaviours: list[dict] | None = None) -> None:
        if isinstance(kind_or_behaviours, list):
            super().script("images", kind_or_behaviours)
        else:
            super().script(kind_or_behaviours, behaviours or [])

    def _route(self, method: str, path: str, recorded: Recorded) -> str | None:
        if method == "GET" and path in ("/search", "/search.json"):
            return "images"
        return None

    def _answer(self, behaviour: dict, recorded: Recorded) -> _Reply:
        kind = behaviour["kind"]
        if kind == "error":
            headers = {}
            if behaviour.get("retry_after") is not None:
                headers["Retry-After"] = _seconds(behaviour["retry_after"])
            return _Reply(behaviour["status"], {"error": behaviour["message"]}, headers)
        if kind == "error_body":
            return _Reply(behaviour["status"], {"error": behaviour["message"]})
        if kind == "raw":
            return _Reply(behaviour["status"], behaviour["body"], behaviour.get("headers"))
        if kind == "invalid_json":
            return _Reply(200, behaviour["text"], {"Content-Type": "text/html"})
        if kind == "respond":
            return _Reply(200, behaviour["fn"](recorded))
        if kind != "ok":
            raise ValueError(f"unknown behaviour {kind!r}")
        if behaviour.get("data") is not None:
            return _Reply(200, behaviour["data"])
        query = recorded.query.get("q", "")
        slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-") or "image"
        originals = behaviour.get("originals")
        if originals is None:
            originals = [f"https://images.example.test/{slug}-{n}.jpg" for n in (1, 2, 3)]
        return _Reply(
            200,
            {
                "search_metadata": {"id": "fake", "status": "Success"},
                "search_parameters": {"engine": recorded.query.get("engine"), "q": query},
                "images_results": [
                    {
                        "position": n,
                        "title": f"{query} {n}",
                        "original": original,
                        "thumbnail": f"https://thumbs.example.test/{slug}-{n}.jpg",
                        "source": "example.test",
                    }
                    for n, original in enumerate(originals, start=1)
                ],
            },
        )


# --- YouTube ------------------------------------------------------------------

YOUTUBE_API_KEY = "fakeInnertubeKey_123"
YOUTUBE_MEDIA_HOST = "rr3---sn-fake0.googlevideo.com"
BOT_REASON = "Sign in to confirm you\u2019re not a bot"


def _youtube_transcript_xml(lines: list) -> str:
    """timedtext XML; a line is a text (2.5 s after the previous one) or ``(text, start_seconds)``."""
    from xml.sax.saxutils import escape

    items = []
    for i, line in enumerate(lines):
        text, start = line if isinstance(line, tuple | list) else (line, i * 2.5)
        items.append(f'<text start="{start:.2f}" dur="2.4">{escape(text)}</text>')
    return f'<?xml version="1.0" encoding="utf-8" ?><transcript>{"".join(items)}</transcript>'


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class FakeYouTubeAdapter(BaseAdapter):
    """A requests transport answering as YouTube would, for one scenario.

    Scenarios: ``ok`` (the given ``tracks``), ``disabled`` (no captions),
    ``unavailable``, ``age_restricted``, ``bot_blocked`` (RequestBlocked),
    ``ip_blocked`` (HTTP 429), ``recaptcha``, ``server_error`` (HTTP 500),
    ``network_error`` (connection refused) and ``timeout``.
    ``scenario`` may be changed between requests; ``block_first=N`` answers
    the first N player requests as ``bot_blocked`` and the rest as the scenario.

    ``tracks`` is a list of dicts ``{"lang": "en", "name": "English",
    "asr": False, "translatable": True, "lines": [...]}``;
    ``translations`` the languages a translatable track offers.

    What yt-dlp reads besides (the watch page's ``ytcfg`` and initial data,
    the innertube player's ``videoDetails``, ``microformat`` and
    ``streamingData``): the video's ``title``, ``duration`` (seconds),
    ``chapters`` (``[(start_seconds, title), ...]``, written into the
    description as "0:00 Title" lines, where YouTube takes them from) and
    ``audio``: the bytes of its one audio-only format (``audio_mime``),
    served from ``YOUTUBE_MEDIA_HOST`` with HTTP ranges (its size is in the
    player JSON unless ``announce_size=False``).
    """

    def __init__(
        self,
        scenario: str = "ok",
        *,
        tracks: list[dict] | None = None,
        translations: list[str] = ("en", "de", "fr"),
        title: str = "Photosynthesis, a lecture",
        duration: int = 600,
        chapters: list[tuple[float, str]] = (),
        audio: bytes | None = None,
        audio_mime: str = 'audio/mp4; codecs="mp4a.40.2"',
        block_first: int = 0,
        announce_size: bool = True,
        media_host: str = YOUTUBE_MEDIA_HOST,
    ) -> None:
        super().__init__()
        self.scenario = scenario
        self.tracks = (
            tracks
            if tracks is not None
            else [
                {"lang": "en", "name": "English", "lines": ["Hello and welcome.", "Today: photosynthesis."]}
            ]
        )
        self.translations = list(translations)
        self.title = title
        self.duration = duration
        self.chapters = list(chapters)
        self.audio = audio if audio is not None else b"\0" * 4096
        self.audio_mime = audio_mime
        self.block_first = block_first
        self.announce_size = announce_size
        self.media_host = media_host  # where the player JSON says the audio is
        self._lock = threading.Lock()
        self.log: list[tuple[str, str]] = []

    def close(self) -> None:
        pass

    def _response(
        self,
        request: requests.PreparedRequest,
        status: int,
        body: str | dict | bytes,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        if isinstance(body, dict):
            response._content = json.dumps(body).encode()
            response.headers["Content-Type"] = "application/json"
        elif isinstance(body, bytes):
            response._content = body
            response.headers["Content-Type"] = "application/octet-stream"
        else:
            response._content = body.encode()
            response.headers["Content-Type"] = "text/html"
        response.headers.update(headers or {})
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def media_requests(self) -> list[str]:
        """The URLs of every request for the video's media (the audio)."""
        return [url for _, url in self.log if urlsplit(url).hostname == YOUTUBE_MEDIA_HOST]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.log.append((request.method, request.url))
        url = urlsplit(request.url)
        if url.hostname not in ("www.youtube.com", YOUTUBE_MEDIA_HOST):
            raise requests.ConnectionError(f"fake network: refusing to reach {url.hostname}")
        if self.scenario == "network_error":
            raise requests.ConnectionError("fake network: connection refused")
        if self.scenario == "timeout":
            raise requests.ReadTimeout("fake network: read timed out")
        if self.scenario == "server_error":
            return self._response(request, 500, "<html>oops</html>")
        if self.scenario == "ip_blocked":
            return self._response(request, 429, "<html>Too many requests</html>")
        if url.hostname == YOUTUBE_MEDIA_HOST:
            return self._media(request, url)
        if url.path == "/watch":
            if self.scenario == "recaptcha":
                return self._response(request, 200, '<html><div class="g-recaptcha"></div></html>')
            video_id = parse_qs(url.query).get("v", ["unknown"])[0]
            return self._response(request, 200, self._watch_page(video_id))
        if url.path == "/youtubei/v1/player":
            try:
                video_id = json.loads(request.body or b"{}").get("videoId", "unknown")
            except ValueError:
                video_id = "unknown"
            return self._response(request, 200, self._player(video_id))
        if url.path == "/api/timedtext":
            params = parse_qs(url.query)
            lang = params.get("lang", [""])[0]
            target = params.get("tlang", [None])[0]
            for track in self.tracks:
                if track["lang"] == lang:
                    lines = track.get("lines", [])
                    if target:
                        lines = [f"[{target}] {line}" for line in lines if isinstance(line, str)]
                    return self._response(request, 200, _youtube_transcript_xml(lines))
            return self._response(request, 404, "")
        return self._response(request, 404, "")

    def _watch_page(self, video_id: str) -> str:
        ytcfg = {
            "INNERTUBE_API_KEY": YOUTUBE_API_KEY,
            "INNERTUBE_CLIENT_NAME": "WEB",
            "INNERTUBE_CLIENT_VERSION": "2.20260708.00.00",
            "INNERTUBE_CONTEXT_CLIENT_NAME": 1,
            "VISITOR_DATA": "CgtmYWtlVmlzaXRvcg%3D%3D",
        }
        # The web page's own player response carries no formats (yt-dlp drops them anyway).
        initial_player = {
            k: v for k, v in self._player(video_id, count_block=False).items() if k != "streamingData"
        }
        initial_data = {"contents": {"twoColumnWatchNextResults": {}}}
        return (
            "<html><head><title>YouTube</title></head><body>"
            f"<script>ytcfg.set({json.dumps(ytcfg)});</script>"
            f"<script>var ytInitialPlayerResponse = {json.dumps(initial_player)};</script>"
            f"<script>var ytInitialData = {json.dumps(initial_data)};</script>"
            "</body></html>"
        )

    def _blocked_now(self, *, count: bool) -> bool:
        with self._lock:
            if self.block_first > 0:
                if count:
                    self.block_first -= 1
                return True
        return self.scenario == "bot_blocked"

    def _player(self, video_id: str, *, count_block: bool = True) -> dict:
        if self.scenario == "unavailable":
            return {"playabilityStatus": {"status": "ERROR", "reason": "This video is unavailable"}}
        if self.scenario == "age_restricted":
            return {
                "playabilityStatus": {
                    "status": "LOGIN_REQUIRED",
                    "reason": "This video may be inappropriate for some users.",
                }
            }
        if self._blocked_now(count=count_block):
            return {"playabilityStatus": {"status": "LOGIN_REQUIRED", "reason": BOT_REASON}}
        description = "A lecture.\n\n" + "\n".join(f"{_clock(start)} {name}" for start, name in self.chapters)
        answer: dict = {
            "playabilityStatus": {"status": "OK", "playableInEmbed": True},
            "videoDetails": {
                "videoId": video_id,
                "title": self.title,
                "lengthSeconds": str(self.duration),
                "shortDescription": description,
                "channelId": "UCfakeChannel0000000000a",
                "author": "Fake University",
                "isLiveContent": False,
                "isPrivate": False,
                "viewCount": "1234",
            },
            "microformat": {
                "playerMicroformatRenderer": {
                    "title": {"simpleText": self.title},
                    "lengthSeconds": str(self.duration),
                    "category": "Education",
                    "uploadDate": "2026-01-15",
                    "isFamilySafe": True,
                }
            },
            "streamingData": {
                "expiresInSeconds": "21540",
                "adaptiveFormats": [
                    {
                        "itag": 139,
                        "url": f"https://{self.media_host}/videoplayback?id={video_id}&itag=139&source=youtube",
                        "mimeType": self.audio_mime,
                        "bitrate": 49000,
                        "averageBitrate": 48000,
                        **({"contentLength": str(len(self.audio))} if self.announce_size else {}),
                        "approxDurationMs": str(self.duration * 1000),
                        "audioQuality": "AUDIO_QUALITY_LOW",
                        "audioSampleRate": "22050",
                        "audioChannels": 1,
                        "lastModified": "1700000000000000",
                    }
                ],
            },
        }
        if self.scenario == "disabled":
            return answer
        tracks = [
            {
                "baseUrl": f"https://www.youtube.com/api/timedtext?v=vid&lang={track['lang']}",
                "name": {"runs": [{"text": track.get("name", track["lang"])}]},
                "languageCode": track["lang"],
                **({"kind": "asr"} if track.get("asr") else {}),
                "isTranslatable": track.get("translatable", False),
            }
            for track in self.tracks
        ]
        answer["captions"] = {
            "playerCaptionsTracklistRenderer": {
                "captionTracks": tracks,
                "translationLanguages": [
                    {"languageCode": code, "languageName": {"runs": [{"text": code.upper()}]}}
                    for code in self.translations
                ],
            }
        }
        return answer

    def _media(self, request: requests.PreparedRequest, url) -> requests.Response:
        if url.path != "/videoplayback":
            return self._response(request, 404, "")
        data, total = self.audio, len(self.audio)
        headers = {"Content-Type": self.audio_mime.split(";")[0], "Accept-Ranges": "bytes"}
        wanted = request.headers.get("Range") or ""
        if match := re.fullmatch(r"bytes=(\d+)-(\d*)", wanted):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else total - 1, total - 1)
            if start >= total:
                return self._response(request, 416, b"", {"Content-Range": f"bytes */{total}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
            return self._response(request, 206, data[start : end + 1], headers)
        return self._response(request, 200, data, headers)

    def proxy_app(self, request: ProxiedRequest) -> tuple[int, dict[str, str], bytes]:
        """Answer a request that came through ``InterceptingProxy`` (tests/fake_proxy.py)."""
        prepared = requests.Request(
            request.method, request.url, headers=request.headers, data=request.body or None
        ).prepare()
        try:
            response = self.send(prepared)
        except requests.RequestException as exc:
            return 502, {"Content-Type": "text/plain"}, str(exc).encode()
        return response.status_code, dict(response.headers), response.content


def fake_youtube_session(scenario: str = "ok", **kwargs: Any) -> requests.Session:
    """A Session that never leaves the process: every URL goes to FakeYouTubeAdapter."""
    session = requests.Session()
    session.trust_env = False
    adapter = FakeYouTubeAdapter(scenario, **kwargs)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.fake = adapter  # type: ignore[attr-defined]
    return session


# --- Audio that says words ----------------------------------------------------
#
# A fake speech recogniser needs audio whose words it can tell apart. Here a
# "word" is one second of a pure tone, each word of ``TONE_WORDS`` at its own
# pitch. ``tone_audio`` writes such a recording (WAV); ``hear_tones`` decodes
# whatever audio it is given (with ffmpeg, so MP3 parts and M4A downloads
# too) and tells the word of each whole second. So a fake transcription of
# a part of a recording returns exactly the words that part contains, at
# the seconds they are at: cutting at the wrong place shows in the text.

_SENTENCE = (
    "photosynthesis turns light into chemical energy inside the chloroplast where water splits "
    "oxygen escapes carbon dioxide enters calvin cycle builds sugar from atmospheric plants grow "
    "leaves store starch roots absorb minerals"
)
TONE_WORDS = tuple(_SENTENCE.split())
_TONE_BASE_HZ = 300
_TONE_STEP_HZ = 50
TONE_SAMPLE_RATE = 8000


def tone_audio(words: list[str], *, silence_after: dict[int, float] | None = None) -> bytes:
    """A WAV recording: one second of tone per word (words from ``TONE_WORDS``;
    None for a second of silence)."""
    import math
    import struct
    import wave
    from io import BytesIO

    frames = bytearray()
    for word in words:
        if word is None:
            frames += b"\0\0" * TONE_SAMPLE_RATE
            continue
        frequency = _TONE_BASE_HZ + _TONE_STEP_HZ * TONE_WORDS.index(word)
        for n in range(TONE_SAMPLE_RATE):
            frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / TONE_SAMPLE_RATE)))
    buffer = BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(TONE_SAMPLE_RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def encode_audio(wav: bytes, extension: str) -> bytes:
    """``wav`` re-encoded by ffmpeg (``m4a``, ``webm``, ``mp3``, ...)."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        source, target = Path(directory) / "in.wav", Path(directory) / f"out.{extension}"
        source.write_bytes(wav)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-vn", str(target)],
            check=True,
            timeout=60,
        )
        return target.read_bytes()


def hear_tones(audio: bytes) -> list[tuple[int, str]]:
    """``(second, word)`` for every whole second of ``audio`` that holds a tone word."""
    import array
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "upload"
        source.write_bytes(audio)
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(source), "-f", "s16le"]
        command += ["-ac", "1", "-ar", str(TONE_SAMPLE_RATE), "-"]
        decoded = subprocess.run(
            command,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    samples = array.array("h", decoded[: len(decoded) // 2 * 2])
    heard = []
    for second in range(len(samples) // TONE_SAMPLE_RATE):
        # The middle of the second: the edges may be smeared by the encoder.
        window = samples[second * TONE_SAMPLE_RATE + 1600 : second * TONE_SAMPLE_RATE + 6400]
        if max(abs(value) for value in window) < 2000:
            continue  # silence
        crossings = sum(1 for a, b in itertools.pairwise(window) if (a < 0) != (b < 0))
        frequency = crossings / 2 / (len(window) / TONE_SAMPLE_RATE)
        index = round((frequency - _TONE_BASE_HZ) / _TONE_STEP_HZ)
        if 0 <= index < len(TONE_WORDS):
            heard.append((second, TONE_WORDS[index]))
    return heard


def transcribe_tones() -> dict:
    """A FakeOpenAI behaviour: the tone words of the uploaded audio, as
    ``verbose_json`` with one phrase per word at its second (or plain JSON
    when plain JSON was asked for)."""

    def answer(recorded: Recorded) -> dict:
        heard = hear_tones(recorded.uploads["file"])
        if recorded.form.get("response_format") != "verbose_json":
            return {"text": " ".join(word for _, word in heard)}
        return verbose_transcription([(float(second), second + 1.0, word) for second, word in heard])

    return respond(answer)


# --- running a fake on its own ------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake service on 127.0.0.1 until interrupted.")
    parser.add_argument("service", choices=["openai", "serpapi"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    fake = (FakeOpenAI if args.service == "openai" else FakeSerpAPI)(port=args.port).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
