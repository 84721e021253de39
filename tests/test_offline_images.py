"""The offline image provider: signed links to generated SVG cards."""

import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import pytest
from django.core import signing
from django.http import Http404
from django.test import RequestFactory

from pipeline.providers.offline_images import (
    LABEL,
    SALT,
    OfflineImageProvider,
    generated_image,
    render_svg,
)

DESCRIPTION = "Diagram of photosynthesis in a leaf: chloroplasts capture light"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _token(url: str) -> str:
    path = urlparse(url).path
    assert path.startswith("/images/generated/") and path.endswith(".svg")
    return path.removeprefix("/images/generated/").removesuffix(".svg")


def _get(token: str):
    request = RequestFactory().get(f"/images/generated/{token}.svg")
    return generated_image(request, token)


def test_the_provider_is_named_offline():
    assert OfflineImageProvider.name == "offline"


def test_find_image_returns_an_absolute_url_under_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://study.example.org"
    url = OfflineImageProvider().find_image(description=DESCRIPTION, query="photosynthesis leaf")
    parsed = urlparse(url)
    assert parsed.scheme in {"http", "https"}
    assert url.startswith("https://study.example.org/images/generated/")
    token = _token(url)
    assert "/" not in token and "?" not in token and "#" not in token
    assert signing.loads(token, salt=SALT) == DESCRIPTION


def test_the_same_description_gives_the_same_url():
    provider = OfflineImageProvider()
    first = provider.find_image(description=DESCRIPTION, query="a")
    assert provider.find_image(description=DESCRIPTION, query="b") == first


def test_the_view_serves_the_card_for_a_url_it_made():
    url = OfflineImageProvider().find_image(description=DESCRIPTION, query="photosynthesis")
    response = _get(_token(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert response["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert response["X-Content-Type-Options"] == "nosniff"
    body = response.content.decode("utf-8")
    assert body == render_svg(DESCRIPTION)
    assert "photosynthesis" in body


def test_a_tampered_token_is_not_found():
    token = _token(OfflineImageProvider().find_image(description=DESCRIPTION, query="q"))
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Http404):
        _get(tampered)
    with pytest.raises(Http404):
        _get("not-a-token")


def test_a_token_signed_for_another_purpose_is_not_found():
    token = signing.dumps(DESCRIPTION, salt="some.other.salt", compress=True)
    with pytest.raises(Http404):
        _get(token)


def test_the_view_only_answers_safe_methods():
    token = _token(OfflineImageProvider().find_image(description=DESCRIPTION, query="q"))
    response = generated_image(RequestFactory().post(f"/images/generated/{token}.svg"), token)
    assert response.status_code == 405


def test_long_descriptions_are_cut_to_300_characters():
    description = "word " * 200
    token = _token(OfflineImageProvider().find_image(description=description, query="q"))
    assert signing.loads(token, salt=SALT) == description[:300]


def test_the_svg_escapes_markup_in_the_description():
    svg = render_svg('<script>alert("x")</script> & <img src=x onerror=alert(1)>')
    assert "<script" not in svg
    assert "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert "&amp;" in svg
    root = ET.fromstring(svg)
    tags = {element.tag.removeprefix(SVG_NS) for element in root.iter()}
    assert tags <= {"svg", "title", "defs", "linearGradient", "stop", "rect", "circle", "text", "tspan"}


def test_the_svg_is_well_formed_even_with_control_characters():
    ET.fromstring(render_svg("bell \x07 and nul \x00 and form feed \x0c"))


def test_the_svg_is_a_labelled_800_by_450_card():
    root = ET.fromstring(render_svg(DESCRIPTION))
    assert root.tag == f"{SVG_NS}svg"
    assert (root.get("width"), root.get("height")) == ("800", "450")
    texts = " ".join("".join(element.itertext()) for element in root.iter(f"{SVG_NS}text"))
    assert LABEL in texts
    assert LABEL == "Generated illustration (offline)"


def test_the_svg_is_deterministic_and_its_colour_depends_on_the_text():
    assert render_svg(DESCRIPTION) == render_svg(DESCRIPTION)
    colours = set()
    for number in range(12):
        root = ET.fromstring(render_svg(f"Illustration number {number}"))
        colours.add(root.find(f".//{SVG_NS}stop").get("stop-color"))
    assert len(colours) >= 3


def test_a_long_description_is_wrapped_over_a_few_lines():
    root = ET.fromstring(render_svg("A rather long description of the water cycle " * 10))
    lines = ["".join(span.itertext()) for span in root.iter(f"{SVG_NS}tspan")]
    assert 2 <= len(lines) <= 6
    assert all(len(line) <= 40 for line in lines)
    assert lines[-1].endswith("\u2026")
