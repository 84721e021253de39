"""Every request body is bounded before anything reads it (SPEC section 5:
"every endpoint refuses a body over its limit with 413 before reading it").

`RequestBodyLimitMiddleware` is the first middleware. It resolves the path
to its view and takes the view's limit:

- a view's own `max_body_bytes` (an int, or a function of the request's
  method and content type; the `max_body_bytes` decorator for a function
  view): creating a source allows an upload (MAX_UPLOAD_BYTES plus the
  multipart framing) or a text (MAX_TEXT_CHARS, escaped, plus the other
  fields). A page that takes an upload or a long text must declare it;
- the admin: Django's DATA_UPLOAD_MAX_MEMORY_SIZE (its forms edit notes
  with their quiz and cards);
- everything else, and paths that match no view: SMALL_BODY_BYTES
  (credentials, a retry, an answer).

A declared Content-Length above the limit is refused at once, unread. A
chunked body (no Content-Length) is read up to the limit, and one byte more
is refused; within the limit it is handed on with its length (a WSGI
Django reads a body only up to the declared Content-Length, so it would see
an empty one). Under ASGI Django reads the whole body before any middleware
runs: `limit_asgi_body` wraps the ASGI application and applies the same
limits while the body arrives.

The refusal is a 413 in the API's error shape, `{"detail": "..."}`.
"""

import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

SMALL_BODY_BYTES = 64 * 1024
# Room beside the payload itself: multipart boundaries, part headers and the
# small form fields (kind, title, language); JSON keys and the other fields.
FRAMING_BYTES = 64 * 1024
# The most a character of text can take in a request body: a character
# outside the Basic Multilingual Plane escaped in JSON as a surrogate pair
# (\ud83d\ude00, 12 bytes; it counts as one character of MAX_TEXT_CHARS), or
# percent-encoded UTF-8 in a form (%F0%9F%98%80, 12 bytes).
TEXT_BYTES_PER_CHAR = 12
READ_BLOCK_BYTES = 64 * 1024

BodyLimit = int | Callable[[str, str], int]


def upload_body_bytes() -> int:
    return settings.MAX_UPLOAD_BYTES + FRAMING_BYTES


def text_body_bytes() -> int:
    """The largest body of a text source: MAX_TEXT_CHARS characters, each
    escaped at its longest. (settings.DATA_UPLOAD_MAX_MEMORY_SIZE, Django's
    own guard of request.body, is computed the same way.)"""
    return settings.MAX_TEXT_CHARS * TEXT_BYTES_PER_CHAR + FRAMING_BYTES


def source_create_body_bytes(method: str, content_type: str) -> int:
    """POST /api/sources/: a file in multipart, else a text (or a URL).
    Listing sources takes no body."""
    if method != "POST":
        return SMALL_BODY_BYTES
    if content_type.lower().startswith("multipart/"):
        return upload_body_bytes()
    return text_body_bytes()


def max_body_bytes(limit: BodyLimit) -> Callable:
    """Declare a function view's body limit (a class-based view sets the
    attribute itself): `@max_body_bytes(source_create_body_bytes)` on a page
    that takes an upload or a long text."""

    def declare(view: Callable) -> Callable:
        view.max_body_bytes = limit
        return view

    return declare


def body_limit_for(path_info: str, method: str, content_type: str) -> int:
    """The largest body a request to `path_info` may send, in bytes."""
    try:
        match = resolve(path_info)
    except Resolver404:
        return SMALL_BODY_BYTES
    view = getattr(match.func, "view_class", match.func)
    declared: BodyLimit | None = getattr(view, "max_body_bytes", None)
    if declared is not None:
        return declared(method.upper(), content_type) if callable(declared) else declared
    if "admin" in match.app_names:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return SMALL_BODY_BYTES


def too_large_message(length: int | None, limit: int) -> str:
    if length is None:
        return f"The request body is above the limit of {limit:,} bytes."
    return f"The request body has {length:,} bytes, above the limit of {limit:,} bytes."


def too_large_response(length: int | None, limit: int) -> HttpResponse:
    response = JsonResponse({"detail": too_large_message(length, limit)}, status=413)
    # Framed by its length (this answer passes no other middleware that
    # would set it): the client may still be sending.
    response["Content-Length"] = str(len(response.content))
    return response


def _declared_length(value: str | None) -> int | None:
    """The Content-Length, or None when absent. Nonsense counts as absent,
    as Django reads it (as an empty body)."""
    try:
        length = int(value) if value else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


def _is_chunked(meta: dict) -> bool:
    return "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()


class RequestBodyLimitMiddleware:
    """413 for a body over its route's limit, before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit_for(request.path_info, request.method or "", request.content_type or "")
        length = _declared_length(request.META.get("CONTENT_LENGTH"))
        if length is not None:
            if length > limit:
                return too_large_response(length, limit)
        elif _is_chunked(request.META) and "wsgi.input" in request.META:
            body = self._read_chunked_body(request.META["wsgi.input"], limit)
            if body is None:
                return too_large_response(None, limit)
            size = body.seek(0, 2)
            body.seek(0)
            request.META["CONTENT_LENGTH"] = str(size)
            # WSGIRequest reads its body from this stream (made from the
            # declared Content-Length in its __init__, which a chunked
            # request lacks).
            request._stream = LimitedStream(body, size)
            response = self.get_response(request)
            response._resource_closers.append(body.close)
            return response
        return self.get_response(request)

    @staticmethod
    def _read_chunked_body(source, limit: int):
        """The body, read up to `limit` bytes (spooled to disk past
        FILE_UPLOAD_MAX_MEMORY_SIZE), or None when there is more."""
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        size = 0
        while block := source.read(min(READ_BLOCK_BYTES, limit + 1 - size)):
            size += len(block)
            if size > limit:
                body.close()
                return None
            body.write(block)
        return body


# --- ASGI ----------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_too_large(send: Send, length: int | None, limit: int) -> None:
    response = too_large_response(length, limit)
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


def limit_asgi_body(app: ASGIApp) -> ASGIApp:
    """The same limits for an ASGI server, applied while the body arrives:
    Django's ASGI handler reads (and spools) the whole body first."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        limit = body_limit_for(path, scope["method"], headers.get("content-type", ""))
        length = _declared_length(headers.get("content-length"))
        if length is not None and length > limit:
            await _send_too_large(send, length, limit)
            return
        received = 0
        over_limit = False

        async def counting_receive() -> dict:
            nonlocal received, over_limit
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading, as for a client that went away,
                    # and answers nothing: the 413 is sent below.
                    over_limit = True
                    return {"type": "http.disconnect"}
            return message

        await app(scope, counting_receive, send)
        if over_limit:
            await _send_too_large(send, None, limit)

    return guarded
