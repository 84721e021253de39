"""The offline image provider: no key, no network.

Instead of searching the web it returns the URL of a generated SVG card that
shows the placeholder's description. The description travels inside the URL,
signed with SECRET_KEY, so the card needs no storage and nobody can make the
site render text of their choosing. The card is marked as a generated
illustration so that it is never mistaken for a real picture.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from xml.sax.saxutils import escape

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

SALT = "studynaut.generated-image"
MAX_DESCRIPTION_CHARS = 300
WIDTH, HEIGHT = 800, 450
LABEL = "Generated illustration (offline)"

# Calm, readable backgrounds (with white text) and a lighter accent for each.
_PALETTE = (
    ("#1f4e79", "#2e75b6"),
    ("#245c4f", "#3a8f7a"),
    ("#5b3a7a", "#8256a8"),
    ("#7a3b2e", "#b35a44"),
    ("#2f4858", "#4c7389"),
    ("#6a4c16", "#a07324"),
    ("#3b4a6b", "#5d72a3"),
    ("#1e5f74", "#2f8fab"),
)
# Characters XML 1.0 does not allow (they would make the SVG invalid).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAX_LINES = 6
_LINE_CHARS = 34


def _clean(description: str) -> str:
    return " ".join(_XML_INVALID.sub(" ", description).split())[:MAX_DESCRIPTION_CHARS]


def _lines(description: str) -> list[str]:
    lines = textwrap.wrap(description, width=_LINE_CHARS, break_long_words=True, break_on_hyphens=True)
    if len(lines) > _MAX_LINES:
        lines = lines[:_MAX_LINES]
        last = lines[-1]
        if len(last) > _LINE_CHARS - 1:
            last = last[: _LINE_CHARS - 1].rsplit(" ", 1)[0] or last[: _LINE_CHARS - 1]
        lines[-1] = last.rstrip(" ,;:.-") + "\u2026"
    return lines or ["Illustration"]


def render_svg(description: str) -> str:
    """A deterministic 800x450 SVG card showing the description (XML-escaped)."""
    text = _clean(description) or "Illustration"
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    background, accent = _PALETTE[digest[0] % len(_PALETTE)]
    lines = _lines(text)
    font_size = 34 if len(lines) <= 3 else 28 if len(lines) <= 5 else 25
    line_height = round(font_size * 1.3)
    first_y = HEIGHT // 2 - (len(lines) - 1) * line_height // 2 + font_size // 3 - 10
    # Two soft circles whose places also depend on the text: a little variety.
    circle_a = (120 + digest[1] % 200, 60 + digest[2] % 80, 90 + digest[3] % 70)
    circle_b = (520 + digest[4] % 200, 300 + digest[5] % 90, 70 + digest[6] % 80)
    text_rows = "\n".join(
        f'    <tspan x="{WIDTH // 2}" y="{first_y + index * line_height}">{escape(line)}</tspan>'
        for index, line in enumerate(lines)
    )
    title = escape(text, {'"': "&quot;"})
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" \
viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">
  <title>{escape(text)}</title>
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="{background}"/>
      <stop offset="1" stop-color="{accent}"/>
    </linearGradient>
  </defs>
  <rect width="{WIDTH}" height="{HEIGHT}" fill="url(#bg)"/>
  <circle cx="{circle_a[0]}" cy="{circle_a[1]}" r="{circle_a[2]}" fill="#ffffff" fill-opacity="0.07"/>
  <circle cx="{circle_b[0]}" cy="{circle_b[1]}" r="{circle_b[2]}" fill="#ffffff" fill-opacity="0.06"/>
  <rect x="40" y="40" width="{WIDTH - 80}" height="{HEIGHT - 80}" rx="18" fill="none" \
stroke="#ffffff" stroke-opacity="0.35" stroke-width="2"/>
  <text font-family="Helvetica, Arial, sans-serif" font-size="{font_size}" fill="#ffffff" \
text-anchor="middle">
{text_rows}
  </text>
  <text x="{WIDTH // 2}" y="{HEIGHT - 58}" font-family="Helvetica, Arial, sans-serif" font-size="16" \
fill="#ffffff" fill-opacity="0.8" text-anchor="middle" letter-spacing="1">{escape(LABEL)}</text>
</svg>
"""


def sign_description(description: str) -> str:
    """The URL-safe token that carries a description (first 300 characters)."""
    return signing.dumps(description[:MAX_DESCRIPTION_CHARS], salt=SALT, compress=True)


def token_description(token: str) -> str | None:
    """The description a token carries, or None for a token not signed by us."""
    try:
        description = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return description if isinstance(description, str) else None


def localize_generated_links(text: str, *, base_url: str) -> str:
    """Point links to generated images at `base_url` instead of PUBLIC_BASE_URL."""
    prefix = f"{settings.PUBLIC_BASE_URL}/images/generated/"
    return text.replace(prefix, f"{base_url}/images/generated/") if prefix in text else text


class OfflineImageProvider:
    """Image provider that needs no key: a signed link to a generated SVG card."""

    name = "offline"

    def find_image(self, *, description: str, query: str, context: str = "") -> str:
        token = sign_description(description)
        return f"{settings.PUBLIC_BASE_URL}/images/generated/{token}.svg"


@require_safe
def generated_image(request: HttpRequest, token: str) -> HttpResponse:
    """Serve the SVG card for a signed token; 404 for a token not signed by us."""
    description = token_description(token)
    if description is None:
        raise Http404("No such image.")
    response = HttpResponse(render_svg(description), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response
