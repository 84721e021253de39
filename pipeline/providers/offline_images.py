"""The offline image provider: no key, no network.

Instead of searching the web it returns the URL of a generated SVG: a concept
map of the note section around the placeholder (``pipeline.providers.diagram``),
or a card with the description when the section gives nothing to map. The
picture needs no storage: its spec travels inside the URL, signed.

What the picture route serves, and for how long:
- only specs that ``find_image`` made: the token is signed with SECRET_KEY
  and a salt of its own (SALT), and the spec is a compact structure that
  ``DiagramSpec.from_payload`` checks again, never text to render as it is;
- only while the link is fresh: GENERATED_IMAGE_LINK_MAX_AGE seconds after it
  was signed; a bad or expired token is 404;
- notes keep their pictures: the API re-signs the links of a note or a visual
  each time it serves one (``localize_generated_links``), so stored links
  may expire while the ones a client receives work;
- as ``image/svg+xml`` with ``nosniff`` and a Content-Security-Policy that
  allows nothing (no script, no style sheet, no fetch) and sandboxes the
  document, should someone open it directly.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from .diagram import MAX_DESCRIPTION_CHARS, DiagramSpec, clean_text, concept_map, render_svg

__all__ = [
    "OfflineImageProvider",
    "generated_image",
    "localize_generated_links",
    "render_svg",
    "sign_spec",
    "token_description",
]

SALT = "studynaut.generated-diagram.v1"
# Tokens made before diagrams: a bare description. Re-signed as cards where
# the API serves stored notes, never served as they are.
LEGACY_SALT = "studynaut.generated-image"
PATH_PREFIX = "/images/generated/"
MAX_URL_CHARS = 2000  # Visual.image_url
CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"
_TOKEN = r"(\.?[A-Za-z0-9_\-:]+)"


def link_max_age() -> int:
    """Seconds a signed link to a generated picture stays valid."""
    return int(settings.GENERATED_IMAGE_LINK_MAX_AGE)


class _LinkSigner(signing.TimestampSigner):
    """Signs with the time rounded down to a period (at most an hour, a
    quarter of the links' life): all links to one picture signed within a
    period are one URL, so that a browser caches it and the same picture in
    a note and in its visual has the same address. A link stays valid for at
    least the links' life minus that period."""

    def timestamp(self) -> str:
        period = max(1, min(3600, link_max_age() // 4))
        return signing.b62_encode(int(time.time()) // period * period)


def sign_spec(spec: DiagramSpec) -> str:
    """The URL-safe token of a spec (timestamped: it expires)."""
    return _LinkSigner(salt=SALT).sign_object(spec.to_payload(), compress=True)


def _fresh(token: str) -> bool:
    """Whether a token of ours has at least half of its life left."""
    try:
        _LinkSigner(salt=SALT).unsign_object(token, max_age=link_max_age() / 2)
    except signing.BadSignature:
        return False
    return True


def load_spec(token: str, *, max_age: int | None) -> DiagramSpec | None:
    """The spec a token of ours carries, or None (bad, expired, foreign).
    ``max_age=None`` accepts any age and the tokens made before diagrams:
    only for links we stored ourselves (re-signing, exporting a note)."""
    try:
        return DiagramSpec.from_payload(_LinkSigner(salt=SALT).unsign_object(token, max_age=max_age))
    except signing.BadSignature:  # SignatureExpired is one
        pass
    if max_age is not None:
        return None
    try:
        description = signing.loads(token, salt=LEGACY_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(description, str):
        return None
    return DiagramSpec(clean_text(description)[:MAX_DESCRIPTION_CHARS])


def token_description(token: str) -> DiagramSpec | None:
    """What a stored link shows, whatever its age (for ``export_markdown``,
    which writes the pictures beside a note); ``render_svg`` draws it."""
    return load_spec(token, max_age=None)


def _url(base_url: str, spec: DiagramSpec) -> str:
    return f"{base_url}{PATH_PREFIX}{sign_spec(spec)}.svg"


def _fitting_url(base_url: str, spec: DiagramSpec) -> str:
    """The URL of ``spec``, made smaller until it fits Visual.image_url:
    without edge labels, then with fewer terms, at worst a card."""
    url = _url(base_url, spec)
    if len(url) <= MAX_URL_CHARS:
        return url
    spec = DiagramSpec(spec.description, spec.terms, tuple((a, b, "") for a, b, _ in spec.edges))
    while len(url := _url(base_url, spec)) > MAX_URL_CHARS and spec.is_map:
        keep = len(spec.terms) - 1
        edges = tuple(edge for edge in spec.edges if edge[0] < keep and edge[1] < keep)
        spec = (
            DiagramSpec(spec.description, spec.terms[:keep], edges)
            if keep >= 2
            else DiagramSpec(spec.description)
        )
    return url


def _link_re(base_url: str) -> re.Pattern:
    # A literal prefix, then one class run that cannot hold a "." after its
    # first character: each link is matched in one pass (linear time).
    return re.compile(re.escape(f"{base_url}{PATH_PREFIX}") + _TOKEN + r"\.svg")


def localize_generated_links(text: str, *, base_url: str) -> str:
    """Links to generated pictures in ``text`` (a note's Markdown or HTML, a
    visual's URL), pointed at ``base_url`` instead of PUBLIC_BASE_URL and,
    once past half their life, signed afresh: a stored note's pictures never
    expire for its reader. Links whose token is not ours are left pointing at
    the server, which answers them 404."""
    prefix = f"{settings.PUBLIC_BASE_URL}{PATH_PREFIX}"
    if prefix not in text:
        return text
    fresh: dict[str, str] = {}

    def resign(match: re.Match) -> str:
        token = match.group(1)
        if token not in fresh:
            spec = None if _fresh(token) else load_spec(token, max_age=None)
            fresh[token] = sign_spec(spec) if spec is not None else token
        return f"{base_url}{PATH_PREFIX}{fresh[token]}.svg"

    return _link_re(settings.PUBLIC_BASE_URL).sub(resign, text)


class OfflineImageProvider:
    """Image provider that needs no key: a signed link to a generated picture
    of the section around the placeholder."""

    name = "offline"

    def find_image(self, *, description: str, query: str, context: str = "") -> str:
        spec = (
            concept_map(description, context)
            if context.strip()
            else DiagramSpec(clean_text(description)[:MAX_DESCRIPTION_CHARS])
        )
        return _fitting_url(settings.PUBLIC_BASE_URL, spec)


@require_safe
def generated_image(request: HttpRequest, token: str) -> HttpResponse:
    """The SVG of a fresh token made by ``find_image``; 404 for any other."""
    max_age = link_max_age()
    spec = load_spec(token, max_age=max_age)
    if spec is None:
        raise Http404("No such image.")
    response = HttpResponse(render_svg(spec), content_type="image/svg+xml")
    response["Cache-Control"] = f"private, max-age={min(3600, max_age)}"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response
