"""The offline image provider: signed, expiring links to generated concept
maps (or cards), and the route that serves them."""

import itertools
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import pytest
from django.core import signing
from django.http import Http404
from django.test import RequestFactory

from pipeline.providers.diagram import CARD_LABEL, DIAGRAM_LABEL, concept_map, key_terms
from pipeline.providers.offline_images import (
    LEGACY_SALT,
    MAX_URL_CHARS,
    SALT,
    OfflineImageProvider,
    generated_image,
    localize_generated_links,
    render_svg,
    token_description,
)

DESCRIPTION = "Diagram of photosynthesis in a leaf: chloroplasts capture light"
CONTEXT = """## Photosynthesis

Photosynthesis happens in the chloroplasts of leaf cells. Chloroplasts capture light energy
with chlorophyll. The light reactions split water and release oxygen. The Calvin cycle uses
ATP and NADPH to fix carbon dioxide.

[VISUAL::Diagram of photosynthesis in a leaf: chloroplasts capture light]

Light energy drives the light reactions; the Calvin cycle runs in the stroma of the
chloroplasts. Carbon dioxide enters the leaf through the stomata.
"""
SPANISH_CONTEXT = (
    "La fotosíntesis ocurre en los cloroplastos. Los cloroplastos capturan la energía luminosa. "
    "La energía luminosa impulsa el ciclo de Calvin. El ciclo de Calvin fija el dióxido de carbono."
)
SVG_NS = "{http://www.w3.org/2000/svg}"
SAFE_TAGS = {"svg", "title", "desc", "defs", "linearGradient", "stop", "rect", "circle", "line", "polygon"}
SAFE_TAGS |= {"text", "tspan"}


def _token(url: str) -> str:
    path = urlparse(url).path
    assert path.startswith("/images/generated/") and path.endswith(".svg")
    return path.removeprefix("/images/generated/").removesuffix(".svg")


def _get(token: str):
    request = RequestFactory().get(f"/images/generated/{token}.svg")
    return generated_image(request, token)


def _find(description: str = DESCRIPTION, context: str = CONTEXT) -> str:
    return OfflineImageProvider().find_image(description=description, query="q", context=context)


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(element.itertext()) for element in root.iter(f"{SVG_NS}text")]


def _boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """The boxes of the terms and of the edge labels (the background and the
    card frame excluded)."""
    root = ET.fromstring(svg)
    boxes = []
    for rect in root.iter(f"{SVG_NS}rect"):
        if rect.get("x") is None or rect.get("fill") == "none":
            continue
        x, y, width, height = (float(rect.get(name)) for name in ("x", "y", "width", "height"))
        boxes.append((x, y, width, height))
    return boxes


# --- the provider -----------------------------------------------------------------


def test_the_provider_is_named_offline():
    assert OfflineImageProvider.name == "offline"


def test_find_image_returns_an_absolute_url_under_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://study.example.org"
    url = _find()
    assert url.startswith("https://study.example.org/images/generated/")
    token = _token(url)
    assert "/" not in token and "?" not in token and "#" not in token
    assert token_description(token).description == DESCRIPTION


def test_the_same_section_gives_the_same_picture():
    first, second = token_description(_token(_find())), token_description(_token(_find()))
    assert first == second
    assert render_svg(first) == render_svg(second)


def test_the_link_carries_a_concept_map_of_the_sections_key_terms():
    spec = token_description(_token(_find()))
    assert spec.is_map
    assert 2 <= len(spec.terms) <= 7
    for term in ("chloroplasts", "light energy", "Calvin cycle", "carbon dioxide"):
        assert term in spec.terms
    # "light" only ever comes as "light energy" or "light reactions": no node of its own.
    assert "light" not in spec.terms
    assert not {"the", "and", "of"} & {term.casefold() for term in spec.terms}


def test_terms_that_share_a_sentence_are_linked_with_the_words_between_them():
    spec = concept_map(DESCRIPTION, CONTEXT)
    index = {term: number for number, term in enumerate(spec.terms)}
    links = {(spec.terms[a], spec.terms[b]): label for a, b, label in spec.edges}
    assert links[("chloroplasts", "light energy")] == "capture"
    assert links[("light energy", "light reactions")] == "drives"
    # Terms never in one sentence are not linked.
    assert ("light reactions", "carbon dioxide") not in links
    assert all(a in index.values() and b in index.values() for a, b, _ in spec.edges)


def test_the_map_is_in_the_language_of_the_source():
    spec = concept_map("La fotosíntesis", SPANISH_CONTEXT)
    assert {"cloroplastos", "energía luminosa", "ciclo de Calvin"} <= set(spec.terms)
    labels = {label for _, _, label in spec.edges}
    assert "capturan" in labels and "impulsa" in labels
    svg = render_svg(spec)
    assert "energía luminosa" in svg and "cloroplastos" in svg


def test_key_terms_are_frequent_word_groups_not_stopwords():
    text = "The cell membrane protects the cell. The cell membrane is made of lipids. Lipids are fats."
    assert key_terms(text)[:2] == ["cell membrane", "lipids"]


def test_an_empty_section_gives_a_card_with_the_description():
    for context in ("", "   ", "the and of"):
        spec = token_description(_token(_find(context=context)))
        assert not spec.is_map
        svg = render_svg(spec)
        assert CARD_LABEL in _texts(svg)
        assert "photosynthesis" in " ".join(_texts(svg))


def test_a_long_section_still_fits_the_url_field():
    words = " ".join(f"Wordgroup{n:04d}{'x' * 30} Othergroup{n:04d}{'y' * 30}." for n in range(400))
    url = _find(description="d" * 1000, context=words * 3)
    assert len(url) <= MAX_URL_CHARS
    assert token_description(_token(url)) is not None


# --- the picture ------------------------------------------------------------------


def test_the_diagram_is_marked_generated_and_titled_with_the_description():
    svg = render_svg(concept_map(DESCRIPTION, CONTEXT))
    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == ("800", "450")
    assert root.get("role") == "img"
    assert root.find(f"{SVG_NS}title").text == DESCRIPTION
    assert DIAGRAM_LABEL in _texts(svg)
    assert "Calvin cycle" in _texts(svg)


@pytest.mark.parametrize(
    "context", [CONTEXT, SPANISH_CONTEXT, "Alpha beta. " * 3 + "Gamma delta epsilon. " * 2]
)
def test_the_boxes_do_not_overlap_and_stay_inside_the_picture(context):
    svg = render_svg(concept_map("A diagram", context))
    boxes = _boxes(svg)
    assert len(boxes) >= 2
    for x, y, width, height in boxes:
        assert x >= 0 and y >= 0 and x + width <= 800 and y + height <= 450
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in itertools.combinations(boxes, 2):
        assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_seven_long_terms_are_shortened_until_they_fit():
    context = (
        " ".join(
            f"Extraordinarilylongterm{letter}abcdefghij and Extraordinarilylongterm{letter}abcdefghij."
            for letter in "ABCDEFG"
        )
        + " "
        + " ".join(f"Extraordinarilylongterm{letter}abcdefghij" for letter in "ABCDEFG")
        + "."
    )
    spec = concept_map("Long", context)
    assert len(spec.terms) == 7
    boxes = _boxes(render_svg(spec))
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in itertools.combinations(boxes, 2):
        assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_hostile_text_is_escaped_in_the_description_and_the_terms():
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)> "quoted"'
    context = f"{hostile} {hostile}. Scriptkiddie <b>bold</b> & Scriptkiddie attack."
    for svg in (render_svg(hostile), render_svg(concept_map(hostile, context))):
        assert "<script" not in svg and "<img" not in svg and "<b>" not in svg
        assert "&lt;script&gt;" in svg and "&amp;" in svg
        root = ET.fromstring(svg)
        assert {element.tag.removeprefix(SVG_NS) for element in root.iter()} <= SAFE_TAGS
        for element in root.iter():
            assert not any(name.startswith("on") or "href" in name for name in element.attrib)


def test_the_svg_is_well_formed_even_with_control_characters():
    ET.fromstring(render_svg("bell \x07 and nul \x00 and form feed \x0c"))
    ET.fromstring(
        render_svg(concept_map("bell \x07", "Nul\x00word and Nul\x00word \x0c again. Bell\x07ring."))
    )


def test_the_card_is_labelled_and_wraps_a_long_description():
    root = ET.fromstring(render_svg("A rather long description of the water cycle " * 10))
    lines = ["".join(span.itertext()) for span in root.iter(f"{SVG_NS}tspan")]
    assert 2 <= len(lines) <= 6
    assert all(len(line) <= 40 for line in lines)
    assert lines[-1].endswith("\u2026")
    assert CARD_LABEL in _texts(render_svg("x"))


def test_the_colours_depend_on_the_text():
    colours = set()
    for number in range(12):
        root = ET.fromstring(render_svg(f"Illustration number {number}"))
        colours.add(root.find(f".//{SVG_NS}stop").get("stop-color"))
    assert len(colours) >= 3


# --- the route --------------------------------------------------------------------


def test_the_route_serves_the_picture_of_a_link_it_made():
    token = _token(_find())
    response = _get(token)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert response["Cache-Control"].startswith("private, max-age=")
    assert response.content.decode("utf-8") == render_svg(token_description(token))


def test_a_tampered_or_foreign_token_is_not_found():
    token = _token(_find())
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (tampered, "not-a-token", signing.dumps(DESCRIPTION, salt="some.other.salt", compress=True)):
        with pytest.raises(Http404):
            _get(bad)


def test_signed_text_that_is_not_a_diagram_spec_is_not_found():
    """Even with our key and salt, only a spec is drawn: never text as it is."""
    for payload in ("<html>page-like text</html>", {"d": 5}, {"d": "x", "t": ["a", "b"], "e": [[0, 9, ""]]}):
        with pytest.raises(Http404):
            _get(signing.dumps(payload, salt=SALT, compress=True))


def test_an_old_style_token_is_not_served_as_it_is():
    with pytest.raises(Http404):
        _get(signing.dumps(DESCRIPTION, salt=LEGACY_SALT, compress=True))


def test_an_expired_link_is_not_found_and_the_api_renews_it(settings):
    settings.PUBLIC_BASE_URL = "http://worker.internal"
    settings.GENERATED_IMAGE_LINK_MAX_AGE = 1
    stored = f"![{DESCRIPTION}]({_find()})"
    time.sleep(2.1)  # timestamps are whole seconds
    with pytest.raises(Http404):
        _get(_token(stored[stored.index("(") + 1 : -1]))

    served = localize_generated_links(stored, base_url="https://study.example.org")
    url = served[served.index("(") + 1 : -1]
    assert url.startswith("https://study.example.org/images/generated/")
    assert _get(_token(url)).status_code == 200


def test_localizing_renews_old_style_links_as_cards_and_leaves_foreign_ones_dead(settings):
    settings.PUBLIC_BASE_URL = "http://worker.internal"
    old = signing.dumps("An old card", salt=LEGACY_SALT, compress=True)
    text = (
        f'<img src="http://worker.internal/images/generated/{old}.svg"> '
        '<img src="http://worker.internal/images/generated/forged:token.svg"> '
        '<img src="http://elsewhere.example/images/generated/x.svg">'
    )
    served = localize_generated_links(text, base_url="http://testserver")
    urls = [part.split('"')[0] for part in served.split('src="')[1:]]
    assert _get(_token(urls[0])).content.decode().count("An old card") >= 1
    assert urls[1] == "http://testserver/images/generated/forged:token.svg"
    with pytest.raises(Http404):
        _get("forged:token")
    assert urls[2] == "http://elsewhere.example/images/generated/x.svg"


def test_the_route_only_answers_safe_methods():
    token = _token(_find())
    response = generated_image(RequestFactory().post(f"/images/generated/{token}.svg"), token)
    assert response.status_code == 405


def test_a_stored_link_can_always_be_drawn_for_an_export(settings):
    settings.GENERATED_IMAGE_LINK_MAX_AGE = 1
    token = _token(_find())
    time.sleep(2.1)
    spec = token_description(token)
    assert spec is not None and spec.is_map
    assert "Calvin cycle" in render_svg(spec)
    assert token_description("not-a-token") is None


def test_a_fresh_link_keeps_its_address_so_a_note_and_its_visual_agree(settings):
    settings.PUBLIC_BASE_URL = "http://worker.internal"
    url = _find()
    served = localize_generated_links(f"![x]({url}) and {url}", base_url="http://testserver")
    expected = url.replace("http://worker.internal", "http://testserver")
    assert served == f"![x]({expected}) and {expected}"
    assert localize_generated_links(url, base_url="http://testserver") == expected
