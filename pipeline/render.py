"""Markdown of a note, and its sanitized HTML.

URLs in the HTML: links may be http(s) or our own (relative) URLs; images
must be https or our own (relative, or under PUBLIC_BASE_URL, where the
generated images live). A plain-http image is mixed content on an https
page and tells its host (or anyone on the path) who reads which note; a
protocol-relative URL (`//host/x`, and its backslash spellings, which
browsers read alike) is another host, however relative it looks.
"""

import re

import markdown as markdown_lib
import nh3
from django.conf import settings

from notes.models import Visual

from .placeholders import replace_placeholders

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li",
    "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height", "loading"},
    "td": {"align"},
    "th": {"align"},
    "span": {"class"},
    "div": {"class"},
    "figure": {"class"},
}


def _markdown_text(value: str) -> str:
    """Text that cannot break out of Markdown image alt text or emphasis."""
    return " ".join(value.replace("[", "(").replace("]", ")").replace("*", "").split())


def _markdown_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _https_image_url(url: str) -> str:
    """A provider's image over https: an http image of another host is
    asked for over https (as browsers upgrade it on an https page anyway)."""
    if url.startswith("http://") and not _is_own_absolute(url):
        return "https://" + url.removeprefix("http://")
    return url


def visual_markdown(visual: Visual, description: str) -> str:
    """What a placeholder becomes: the image, or a short visible fallback."""
    alt = _markdown_text(description)
    if visual.status == Visual.Status.COMPLETED and visual.image_url:
        return f"![{alt}]({_markdown_url(_https_image_url(visual.image_url))})"
    return f"*[Illustration unavailable: {alt}]*"


def note_markdown(*, title: str, sections: list[dict], visuals: list[Visual]) -> str:
    """The note: its title, each section under its heading, each placeholder
    replaced by its visual's image or fallback. A placeholder without a
    visual (past MAX_VISUALS_PER_SOURCE) is left out."""
    by_id = {visual.placeholder_id: visual for visual in visuals}
    parts = [f"# {_markdown_text(title)}"]
    for section in sections:
        parts.append(f"## {section['heading'].strip()}")
        parts.append(section["content"].strip())
    body = "\n\n".join(parts) + "\n"
    return replace_placeholders(
        body, lambda pid, description: visual_markdown(by_id[pid], description) if pid in by_id else ""
    )


# Characters a browser drops around a URL (C0 controls and space) and inside
# it (tab and newlines) before reading it.
_URL_EDGE = "".join(map(chr, range(33)))
_URL_INSIDE = str.maketrans("", "", "\t\n\r")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _as_browser_reads(url: str) -> str:
    return url.strip(_URL_EDGE).translate(_URL_INSIDE)


def _is_own_absolute(url: str) -> bool:
    return url.startswith(f"{settings.PUBLIC_BASE_URL}/")


def _is_relative(url: str) -> bool:
    """A URL of this site: no scheme, and not protocol-relative (`//host`,
    or with backslashes, which browsers treat as slashes)."""
    return _SCHEME.match(url) is None and not url[:2].replace("\\", "/").startswith("//")


def url_allowed(element: str, url: str) -> bool:
    """Whether `url` may stay in an `element`'s link or source."""
    url = _as_browser_reads(url)
    if _is_relative(url):
        return True
    scheme = _SCHEME.match(url)
    scheme_name = scheme.group()[:-1].lower() if scheme else ""
    if element == "img":
        return scheme_name == "https" or _is_own_absolute(url)
    return scheme_name in {"http", "https"}


def _filter_urls(element: str, attribute: str, value: str) -> str | None:
    if attribute in {"href", "src"} and not url_allowed(element, value):
        return None
    return value


def sanitized_html(markdown_text: str) -> str:
    """Render Markdown and keep only harmless HTML: no scripts, no event
    handlers, no javascript: links; links http(s) or relative, images
    https or our own (see the module)."""
    html = markdown_lib.markdown(markdown_text, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        attribute_filter=_filter_urls,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
