"""Markdown of a note, and its sanitized HTML."""

import markdown as markdown_lib
import nh3

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


def visual_markdown(visual: Visual, description: str) -> str:
    """What a placeholder becomes: the image, or a short visible fallback."""
    alt = _markdown_text(description)
    if visual.status == Visual.Status.COMPLETED and visual.image_url:
        return f"![{alt}]({_markdown_url(visual.image_url)})"
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


def sanitized_html(markdown_text: str) -> str:
    """Render Markdown and keep only harmless HTML: no scripts, no event
    handlers, no javascript: links, only http(s) (or relative) URLs."""
    html = markdown_lib.markdown(markdown_text, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
