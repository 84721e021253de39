"""pipeline.render.sanitized_html against hostile Markdown and HTML.

The note's HTML is built from text that came from a user's source and from
an AI: it must never carry script, event handlers or dangerous URLs.
"""

import re
from html.parser import HTMLParser

import pytest

from pipeline.render import sanitized_html

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script\n>alert(1)</script\n>",
    '<img src="x" onerror="alert(1)">',
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img src=x onError=alert(1)>",
    '<img src="javascript:alert(1)">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<img src=`javascript:alert(1)`>",
    '<img """><script>alert(1)</script>">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="  javascript:alert(1)">click</a>',
    '<a href="java\nscript:alert(1)">click</a>',
    '<a href="java&#x09;script:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<a href="VBScript:msgbox(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml,<svg/onload=alert(1)>)",
    '[click](https://ok.example "title" onclick="alert(1)")',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="width: expression(alert(1))">x</div>',
    '<p STYLE="behavior: url(xss.htc)">x</p>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<input autofocus onfocus="alert(1)">',
    '<body onload="alert(1)">',
    '<details open ontoggle="alert(1)">',
    '<video><source onerror="alert(1)"></video>',
    '<audio src=x onerror="alert(1)">',
    '<marquee onstart="alert(1)">x</marquee>',
    '<div onmouseover="alert(1)">hover</div>',
    '<div OnMouseOver="alert(1)">hover</div>',
    '<span onclick="alert(1)" class="ok">x</span>',
    '<p onpointerenter="alert(1)">x</p>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<td background="javascript:alert(1)">x</td>',
    "<a href=\"https://ok.example\" onmouseover='alert(1)'>ok</a>",
    '<img src="https://ok.example/a.png" alt="x" onload="alert(1)">',
    "<x onclick=alert(1)>custom element</x>",
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    # Images that call another host over plain http or without a scheme,
    # and links to another host without a scheme.
    '<img src="http://tracker.example/pixel.gif">',
    "![pixel](http://tracker.example/pixel.gif)",
    '<IMG SRC="HTTP://tracker.example/pixel.gif">',
    '<img src="//tracker.example/pixel.gif">',
    "![pixel](//tracker.example/pixel.gif)",
    '<img src="/\\tracker.example/pixel.gif">',
    '<img src="\\\\tracker.example/pixel.gif">',
    '<img src=" //tracker.example/pixel.gif">',
    '<img src="/&#x09;/tracker.example/pixel.gif">',
    '<a href="//evil.example/login">sign in</a>',
    '<a href="\\/evil.example/login">sign in</a>',
    "[sign in](//evil.example/login)",
]

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li",
    "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "background", "data", "xlink:href", "formaction", "poster"}


PUBLIC_BASE = "http://localhost:8000"  # PUBLIC_BASE_URL of the test settings


def browser_url(value: str) -> str:
    """A URL as a browser reads it: tabs and newlines dropped anywhere, C0
    controls and spaces around."""
    return "".join(char for char in value if char not in "\t\n\r").strip("".join(map(chr, range(33))))


def url_scheme(value: str) -> str:
    """The scheme a browser reads from a URL ("" for a relative one)."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", browser_url(value))
    return match.group(1).lower() if match else ""


def protocol_relative(value: str) -> bool:
    """`//host/...`: another host; browsers read a backslash as a slash."""
    return not url_scheme(value) and browser_url(value)[:2].replace("\\", "/") == "//"


class Elements(HTMLParser):
    """Every element of the output with its attributes, entities decoded
    (as a browser would read them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.comments.append(data)


def problems_in(html: str) -> list[str]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    found = [f"comment {comment!r}" for comment in parser.comments]
    for tag, attrs in parser.elements:
        if tag not in ALLOWED_TAGS:
            found.append(f"tag <{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"event attribute {name} on <{tag}>")
            if name in {"style", "srcdoc"}:
                found.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES:
                scheme = url_scheme(value)
                allowed = {"", "https"} if (tag, name) == ("img", "src") else {"", "http", "https"}
                if protocol_relative(value):
                    found.append(f"protocol-relative URL in {name} of <{tag}>")
                elif scheme not in allowed and not browser_url(value).startswith(f"{PUBLIC_BASE}/"):
                    found.append(f"{scheme}: URL in {name} of <{tag}>")
    return found


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_hostile_html_comes_out_harmless(payload):
    html = sanitized_html(f"Before\n\n{payload}\n\nAfter")

    assert problems_in(html) == [], html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_hostile_html_inside_a_heading_or_list_comes_out_harmless(payload):
    html = sanitized_html(f"## Title {payload}\n\n- item {payload}\n- second\n\n> quoted {payload}")

    assert problems_in(html) == [], html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_hostile_html_inside_a_visual_fallback_comes_out_harmless(payload):
    from notes.models import Visual
    from pipeline.render import visual_markdown

    html = sanitized_html(visual_markdown(Visual(status=Visual.Status.FAILED), payload))

    assert problems_in(html) == [], html


@pytest.mark.parametrize(
    "image_url",
    [
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        'https://ok.example/a.png" onerror="alert(1)',
        "https://ok.example/a.png)<img src=x onerror=alert(1)>",
        "vbscript:msgbox(1)",
    ],
)
def test_a_hostile_image_url_from_a_provider_comes_out_harmless(image_url):
    from notes.models import Visual
    from pipeline.render import visual_markdown

    visual = Visual(status=Visual.Status.COMPLETED, image_url=image_url, description="a cell")

    html = sanitized_html(visual_markdown(visual, "a cell"))

    assert problems_in(html) == [], html


def test_the_checker_itself_catches_what_it_should():
    assert problems_in('<a href="java\tscript:x">') == ["javascript: URL in href of <a>"]
    assert problems_in('<a href=" \x01JavaScript:x">') == ["javascript: URL in href of <a>"]
    assert problems_in('<a href="java script:x">') == []  # not a scheme: a relative URL
    assert problems_in("<p onclick=x>") == ["event attribute onclick on <p>"]
    assert problems_in("<script>") == ["tag <script>"]
    assert problems_in('<img src="https://ok.example/a.png">') == []
    assert problems_in('<img src="http://ok.example/a.png">') == ["http: URL in src of <img>"]
    assert problems_in('<img src="/\\ok.example/a.png">') == ["protocol-relative URL in src of <img>"]
    assert problems_in('<a href=" //ok.example/">') == ["protocol-relative URL in href of <a>"]
    assert problems_in('<a href="http://ok.example/">') == []


def test_ordinary_markdown_survives():
    html = sanitized_html(
        "# Cells\n\nThe **nucleus** holds *DNA*.\n\n"
        "- one\n- two\n\n"
        "![A cell](https://images.example/cell.png)\n\n"
        "[Read more](https://example.org/cells)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )

    assert "<h1>Cells</h1>" in html
    assert "<strong>nucleus</strong>" in html
    assert "<li>one</li>" in html
    assert '<img alt="A cell" src="https://images.example/cell.png">' in html
    assert 'href="https://example.org/cells"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<table>" in html


def test_text_that_looks_like_html_is_escaped_not_run():
    html = sanitized_html("Use `<script>` tags carefully: 1 < 2 & 3 > 2.")

    assert "<code>&lt;script&gt;</code>" in html
    assert "<script" not in html.lower()


@pytest.mark.parametrize(
    ("markdown", "kept"),
    [
        ("![A cell](https://images.example/cell.png)", 'src="https://images.example/cell.png"'),
        ("![A cell](/images/generated/abc.svg)", 'src="/images/generated/abc.svg"'),
        (f"![A cell]({PUBLIC_BASE}/images/generated/a.svg)", f'src="{PUBLIC_BASE}/images/generated/a.svg"'),
        ("[More](http://example.org/cells)", 'href="http://example.org/cells"'),
        ("[More](https://example.org/cells)", 'href="https://example.org/cells"'),
        ("[Next](/notes/2/)", 'href="/notes/2/"'),
        ("[Section](#cells)", 'href="#cells"'),
    ],
)
def test_https_images_our_own_urls_and_http_links_are_kept(markdown, kept):
    assert kept in sanitized_html(markdown)


@pytest.mark.parametrize(
    ("markdown", "dropped"),
    [
        ("![pixel](http://tracker.example/p.gif)", "tracker.example"),
        ("![pixel](//tracker.example/p.gif)", "tracker.example"),
        ("[sign in](//evil.example/login)", "evil.example"),
        ("<img src='/\\tracker.example/p.gif'>", "tracker.example"),
    ],
)
def test_plain_http_images_and_protocol_relative_urls_are_dropped(markdown, dropped):
    assert dropped not in sanitized_html(markdown)


def test_a_providers_plain_http_image_is_asked_for_over_https():
    from notes.models import Visual
    from pipeline.render import visual_markdown

    visual = Visual(status=Visual.Status.COMPLETED, image_url="http://images.example/cell.png")

    html = sanitized_html(visual_markdown(visual, "a cell"))

    assert '<img alt="a cell" src="https://images.example/cell.png">' in html
