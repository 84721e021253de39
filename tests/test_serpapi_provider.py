"""The SerpAPI image provider with google-search-results against FakeSerpAPI."""

import socket

import pytest
from django.test import override_settings

from pipeline import ratelimit
from pipeline.providers import registry
from pipeline.providers.base import ProviderError
from pipeline.providers.serpapi_images import SerpAPIImageProvider, pick_image, usable_image_url
from tests.fakes import FakeSerpAPI, delay, error, error_body, invalid_json, ok

KEY = "serp-test-key-0123456789abcdef0123456789"


@pytest.fixture
def fake():
    with FakeSerpAPI() as server:
        yield server


@pytest.fixture(autouse=True)
def provider_settings(fake):
    with override_settings(
        SERPAPI_API_KEY=KEY,
        SERPAPI_BASE_URL=fake.base_url,
        IMAGE_PROVIDER="serpapi",
        PROVIDER_TIMEOUT=2.0,
        PROVIDER_MAX_RETRIES=2,
        PROVIDER_BACKOFF_BASE=0.01,
        PROVIDER_BACKOFF_MAX=0.05,
        SERPAPI_RPM=100_000,
        CELERY_BROKER_URL="memory://",
    ):
        ratelimit.reset_memory()
        yield
        ratelimit.reset_memory()


def find(query="cell diagram", description="A diagram of a cell"):
    return SerpAPIImageProvider().find_image(description=description, query=query)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_returns_the_first_https_original_and_sends_the_right_query(fake):
    assert find() == "https://images.example.test/cell-diagram-1.jpg"

    (request,) = fake.requests
    assert request.path == "/search"
    assert request.query["engine"] == "google_images"
    assert request.query["safe"] == "active"
    assert request.query["api_key"] == KEY
    assert request.query["q"] == "cell diagram"
    assert request.query["ijn"] == "0"
    assert request.query["output"] == "json"


def test_the_registry_finds_an_image_and_names_the_provider(fake):
    url, name = registry.find_image(description="A mitochondrion", query="mitochondrion")
    assert (url, name) == ("https://images.example.test/mitochondrion-1.jpg", "serpapi")


def test_an_empty_query_falls_back_to_the_description(fake):
    find(query="  ", description="Water cycle")
    assert fake.requests[0].query["q"] == "Water cycle"


def test_a_server_error_is_transient_and_retried_then_fails(fake):
    fake.fail_always("images", 500)

    with pytest.raises(ProviderError) as caught:
        registry.find_image(description="d", query="q")

    assert caught.value.transient
    assert caught.value.provider == "serpapi"
    assert "HTTP 500" in caught.value.message
    assert fake.count() == 3  # 1 + PROVIDER_MAX_RETRIES


def test_a_server_error_then_success_is_retried(fake):
    fake.script([error(502), error(429, retry_after=0), ok()])
    url, _ = registry.find_image(description="d", query="leaf")
    assert url == "https://images.example.test/leaf-1.jpg"
    assert fake.count() == 3


def test_429_is_transient_with_retry_after(fake):
    fake.script([error(429, "Too many requests", retry_after=3)])
    with pytest.raises(ProviderError) as caught:
        find()
    assert caught.value.transient
    assert caught.value.retry_after == 3


@pytest.mark.parametrize(
    "message",
    [
        "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key",
        "Google hasn't returned any results for this query.",
    ],
)
def test_an_error_body_is_permanent_and_not_retried(fake, message):
    fake.script([error_body(message)] * 3)

    with pytest.raises(ProviderError) as caught:
        registry.find_image(description="d", query="q")

    assert not caught.value.transient
    assert message[:30] in caught.value.message
    assert fake.count() == 1


def test_an_error_body_about_a_rate_limit_is_transient(fake):
    fake.script([error_body("You have exceeded the hourly rate limit.")])
    with pytest.raises(ProviderError) as caught:
        find()
    assert caught.value.transient


def test_an_unauthorised_key_is_permanent(fake):
    fake.script([error(401, "Invalid API key.")])
    with pytest.raises(ProviderError) as caught:
        find()
    assert not caught.value.transient
    assert "HTTP 401" in caught.value.message


def test_an_answer_that_is_not_json_is_transient(fake):
    fake.script([invalid_json("<html>Bad gateway</html>")])
    with pytest.raises(ProviderError, match="not JSON") as caught:
        find()
    assert caught.value.transient


def test_a_timeout_is_transient(fake):
    fake.script([delay(1.5)])
    with override_settings(PROVIDER_TIMEOUT=0.5), pytest.raises(ProviderError, match="in time") as caught:
        find()
    assert caught.value.transient


def test_a_refused_connection_is_transient_and_hides_the_key():
    with (
        override_settings(SERPAPI_BASE_URL=f"http://127.0.0.1:{_closed_port()}"),
        pytest.raises(ProviderError) as caught,
    ):
        find()
    assert caught.value.transient
    assert KEY not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_non_https_and_malformed_urls_are_skipped(fake):
    fake.script(
        [
            ok(
                originals=[
                    "javascript:alert(1)",
                    "data:image/png;base64,AAAA",
                    "ftp://images.example.test/a.jpg",
                    "https://user:pw@images.example.test/a.jpg",
                    "https://images.example.test/with space.jpg",
                    'https://images.example.test/quote".jpg',
                    "https:///no-host.jpg",
                    "https://images.example.test:99999/bad-port.jpg",
                    "//images.example.test/relative.jpg",
                    "http://images.example.test/plain.jpg",
                    "https://images.example.test/" + "x" * 2100 + ".jpg",
                    "https://images.example.test/good.jpg",
                ]
            )
        ]
    )
    assert find() == "https://images.example.test/good.jpg"


def test_http_is_used_only_when_there_is_no_https_image(fake):
    fake.script([ok(originals=["javascript:alert(1)", "http://images.example.test/plain.jpg"])])
    assert find() == "http://images.example.test/plain.jpg"


def test_javascript_urls_are_never_returned(fake):
    fake.script(
        [ok(originals=["javascript:alert(1)", "JAVASCRIPT://images.example.test/%0aalert(1)", "vbscript:x"])]
    )
    with pytest.raises(ProviderError, match="no usable image found for 'cell diagram'") as caught:
        find()
    assert not caught.value.transient


def test_no_results_at_all_is_a_permanent_error(fake):
    fake.script([ok(data={"search_metadata": {"status": "Success"}})])
    with pytest.raises(ProviderError, match="no usable image") as caught:
        find()
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        ("https://upload.example.org/a/b.png?x=1&y=2", True),
        ("http://upload.example.org/a.png", True),
        ("HTTPS://upload.example.org/a.png", True),
        ("javascript:alert(1)", False),
        ("https://upload.example.org/a.png\nX", False),
        ("https://a@upload.example.org/a.png", False),
        ("https://upload.example.org/<script>", False),
        ("file:///etc/passwd", False),
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_usable_image_url(value, usable):
    assert (usable_image_url(value) is not None) is usable


def test_pick_image_ignores_entries_that_are_not_objects():
    assert (
        pick_image(["https://x.example/a.jpg", {"original": "https://x.example/b.jpg"}])
        == "https://x.example/b.jpg"
    )


def test_the_key_never_appears_in_messages(fake):
    fake.script([error(500, f"internal error for api_key={KEY}"), error_body(f"bad key {KEY}")])
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            find()
        for text in (str(caught.value), caught.value.message, repr(caught.value)):
            assert KEY not in text


def test_without_a_key_it_is_not_configured(fake):
    with (
        override_settings(SERPAPI_API_KEY=""),
        pytest.raises(ProviderError, match="not configured") as caught,
    ):
        find()
    assert not caught.value.transient
    assert fake.count() == 0
