"""The OpenAI provider with the real SDK against FakeOpenAI, alone and in the chain."""

import socket
import time

import pytest
from django.test import override_settings

from pipeline import ratelimit
from pipeline.providers import registry
from pipeline.providers.base import ProviderError
from pipeline.providers.openai_ai import OpenAIProvider, scrub
from pipeline.providers.schemas import SCHEMAS
from tests.fakes import (
    FakeOpenAI,
    delay,
    error,
    invalid_json,
    ok,
    refusal,
    schema_violation,
    source_text,
    truncated,
)

KEY = "sk-test-SECRETkey0123456789abcdef"

TEXT = (
    "Photosynthesis is the process by which green plants turn light into chemical energy. "
    "It takes place in the chloroplasts, which contain chlorophyll. "
    "The light reactions produce ATP and NADPH, and the Calvin cycle fixes carbon dioxide into sugar.\n\n"
    "Respiration is the reverse process: cells break sugar down to release energy. "
    "Mitochondria are the organelles where cellular respiration happens."
)


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def provider_settings(fake):
    with override_settings(
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_MODEL="fake-model",
        AI_PROVIDERS=["openai", "local"],
        PROVIDER_TIMEOUT=2.0,
        PROVIDER_MAX_RETRIES=2,
        PROVIDER_BACKOFF_BASE=0.01,
        PROVIDER_BACKOFF_MAX=0.05,
        OPENAI_RPM=100_000,
        CELERY_BROKER_URL="memory://",  # the in-process rate limiter
    ):
        ratelimit.reset_memory()
        yield
        ratelimit.reset_memory()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the provider alone ----------------------------------------------------------------


def test_it_returns_the_answer_with_its_token_usage(fake):
    fake.script("lesson_structure", [ok(usage=(120, 45))])

    completion = OpenAIProvider().complete("lesson_structure", TEXT)

    SCHEMAS["lesson_structure"].model_validate(completion.data)
    assert completion.prompt_tokens == 120
    assert completion.completion_tokens == 45
    assert "[VISUAL::" in completion.data["structure"][0]["content"]
    request = fake.calls("lesson_structure")[0]
    assert request.path == "/v1/chat/completions"
    assert request.json["model"] == "fake-model"
    assert request.json["response_format"] == {"type": "json_object"}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    system = request.json["messages"][0]["content"]
    assert "[VISUAL::" in system and "visualOpportunities" in system
    assert source_text(request) == TEXT


@pytest.mark.parametrize("call", ["lesson_structure", "quiz", "flashcards"])
def test_each_call_is_answered_and_validated_against_its_schema(fake, call):
    model, _, name = registry.ai_complete(call, TEXT)

    assert name == "openai"
    assert isinstance(model, SCHEMAS[call])
    assert fake.count(call) == 1
    assert f"(studynaut call: {call})" in fake.calls(call)[0].json["messages"][0]["content"]


def test_it_retries_on_429_then_succeeds(fake):
    fake.script("quiz", [error(429, retry_after=0), error(429), ok()])
    attempts = []

    model, _, name = registry.ai_complete("quiz", TEXT, on_attempt=lambda *a: attempts.append(a))

    assert name == "openai"
    assert len(model.questions) >= 1
    assert fake.count("quiz") == 3
    assert [(provider, number, error is None) for provider, number, error in attempts] == [
        ("openai", 1, False),
        ("openai", 2, False),
        ("openai", 3, True),
    ]
    assert attempts[0][2].transient


def test_a_429_with_retry_after_holds_back_the_next_request(fake):
    fake.script("quiz", [error(429, retry_after=0.4), ok()])
    started = time.monotonic()

    registry.ai_complete("quiz", TEXT)

    first, second = fake.calls("quiz")
    # The backoff is capped at 0.05 s: the wait comes from the shared pause.
    assert second.time - first.time >= 0.35
    assert time.monotonic() - started < 3


def test_rate_limit_errors_are_transient_and_carry_retry_after(fake):
    fake.script("flashcards", [error(429, retry_after=7)])

    with pytest.raises(ProviderError) as caught:
        OpenAIProvider().complete("flashcards", TEXT)

    assert caught.value.transient
    assert caught.value.retry_after == 7
    assert caught.value.provider == "openai"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake, status):
    fake.script("quiz", [error(status)])
    with pytest.raises(ProviderError) as caught:
        OpenAIProvider().complete("quiz", TEXT)
    assert caught.value.transient
    assert f"HTTP {status}" in caught.value.message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent(fake, status):
    fake.script("quiz", [error(status, message="nope")])
    with pytest.raises(ProviderError) as caught:
        OpenAIProvider().complete("quiz", TEXT)
    assert not caught.value.transient
    assert f"HTTP {status}" in caught.value.message


def test_a_server_that_always_fails_falls_back_to_the_local_provider(fake):
    fake.fail_always("*", 500)
    attempts = []

    model, _, name = registry.ai_complete(
        "lesson_structure", TEXT, on_attempt=lambda *a: attempts.append(a[:2])
    )

    assert name == "local"
    assert model.title
    assert fake.count("lesson_structure") == 3  # 1 + PROVIDER_MAX_RETRIES
    assert attempts == [("openai", 1), ("openai", 2), ("openai", 3), ("local", 1)]


@pytest.mark.parametrize(
    "behaviour",
    [invalid_json(), schema_violation(), truncated(), refusal()],
    ids=["invalid_json", "schema_violation", "truncated", "refusal"],
)
def test_an_unusable_answer_falls_back_at_once_without_retrying(fake, behaviour):
    fake.set_default("*", behaviour)

    _, _, name = registry.ai_complete("flashcards", TEXT)

    assert name == "local"
    assert fake.count("flashcards") == 1


def test_invalid_json_is_a_permanent_error(fake):
    fake.script("quiz", [invalid_json("{'single': 'quotes'")])
    with pytest.raises(ProviderError, match="not valid JSON") as caught:
        OpenAIProvider().complete("quiz", TEXT)
    assert not caught.value.transient


def test_a_json_value_that_is_not_an_object_is_refused(fake):
    fake.script("quiz", [ok(data=[1, 2, 3])])
    with pytest.raises(ProviderError, match="not a JSON object"):
        OpenAIProvider().complete("quiz", TEXT)


def test_a_schema_violation_is_reported_as_such_by_the_chain(fake):
    fake.set_default("*", schema_violation())
    with override_settings(AI_PROVIDERS=["openai"]), pytest.raises(ProviderError) as caught:
        registry.ai_complete("quiz", TEXT)
    assert "did not match the schema" in caught.value.message
    assert not caught.value.transient


def test_an_answer_cut_off_by_the_length_limit_is_not_accepted(fake):
    fake.script("lesson_structure", [truncated()])
    with pytest.raises(ProviderError, match="answer was cut off") as caught:
        OpenAIProvider().complete("lesson_structure", TEXT)
    assert not caught.value.transient


def test_a_refusal_is_not_accepted(fake):
    fake.script("quiz", [refusal("I cannot help with that request.")])
    with pytest.raises(ProviderError, match="refused") as caught:
        OpenAIProvider().complete("quiz", TEXT)
    assert not caught.value.transient


def test_a_timeout_is_retried_then_falls_back(fake):
    fake.set_default("*", delay(1.5))
    started = time.monotonic()

    with override_settings(PROVIDER_TIMEOUT=0.5, PROVIDER_MAX_RETRIES=1):
        _, _, name = registry.ai_complete("quiz", TEXT)

    assert name == "local"
    assert fake.count("quiz") == 2
    assert time.monotonic() - started < 3.5


def test_a_timeout_is_a_transient_error(fake):
    fake.script("quiz", [delay(1.5)])
    with override_settings(PROVIDER_TIMEOUT=0.5), pytest.raises(ProviderError, match="in time") as caught:
        OpenAIProvider().complete("quiz", TEXT)
    assert caught.value.transient


def test_a_refused_connection_is_a_transient_error():
    with (
        override_settings(OPENAI_BASE_URL=f"http://127.0.0.1:{_closed_port()}/v1"),
        pytest.raises(ProviderError, match="could not connect") as caught,
    ):
        OpenAIProvider().complete("quiz", TEXT)
    assert caught.value.transient


def test_without_a_key_it_is_not_configured(fake):
    with override_settings(OPENAI_API_KEY=""):
        with pytest.raises(ProviderError) as caught:
            OpenAIProvider().complete("quiz", TEXT)
        _, _, name = registry.ai_complete("quiz", TEXT)

    assert caught.value.message == "OpenAI is not configured (OPENAI_API_KEY is empty)"
    assert not caught.value.transient
    assert name == "local"
    assert fake.count() == 0


def test_the_key_never_appears_in_error_messages(fake):
    masked = KEY[:8] + "*" * 10 + KEY[-4:]
    fake.set_default("*", error(401, message=f"Incorrect API key provided: {KEY}. Also {masked}."))

    with pytest.raises(ProviderError) as direct:
        OpenAIProvider().complete("quiz", TEXT)
    with override_settings(AI_PROVIDERS=["openai"]), pytest.raises(ProviderError) as chained:
        registry.ai_complete("quiz", TEXT)

    for exc in (direct.value, chained.value):
        for text in (str(exc), exc.message, repr(exc)):
            assert KEY not in text
            assert masked not in text
        assert exc.__cause__ is None
    assert "[redacted]" in direct.value.message
    assert not direct.value.transient


def test_scrub_removes_keys_and_bearer_tokens():
    assert KEY not in scrub(f"key={KEY}", KEY)
    assert "abc" not in scrub("Authorization: Bearer abc.def")
    assert scrub("x" * 500, limit=50).endswith("…")


def test_all_providers_failing_gives_one_readable_message(fake):
    fake.fail_always("*", 400)

    with override_settings(AI_PROVIDERS=["openai"]), pytest.raises(ProviderError) as caught:
        registry.ai_complete("quiz", TEXT)

    assert caught.value.message.startswith(
        "all AI providers failed: openai: OpenAI rejected the request (HTTP 400)"
    )
    assert not caught.value.transient
    assert fake.count("quiz") == 1


# --- long texts ----------------------------------------------------------------------


def _long_text(paragraphs: int = 12) -> str:
    return (
        "\n\n".join(
            f"Paragraph {n} talks about topic number {n}. " + "It explains the idea in plain words. " * 6
            for n in range(1, paragraphs + 1)
        )
        + "\n\nThe very last sentence mentions zebrafish regeneration."
    )


def test_quiz_on_a_long_text_sees_its_beginning_and_a_sample_of_the_rest(fake):
    text = _long_text(30)

    with override_settings(AI_CHUNK_CHARS=2000):
        _, _, name = registry.ai_complete("quiz", text)

    assert name == "openai"
    assert fake.count("quiz") == 1
    sent = source_text(fake.calls("quiz")[0])
    assert len(sent) <= 2000
    assert sent.startswith("Paragraph 1 talks")
    assert "[...]" in sent
    assert "zebrafish" in sent  # the last excerpt reaches the end


def test_the_fake_can_be_scripted_and_inspected_over_http(fake):
    import requests

    session = requests.Session()
    session.trust_env = False
    root = fake.root_url
    session.post(f"{root}/_fake/script", json={"kind": "quiz", "behaviours": [error(503)]}, timeout=5)

    with pytest.raises(ProviderError, match="HTTP 503"):
        OpenAIProvider().complete("quiz", TEXT)
    OpenAIProvider().complete("quiz", TEXT)

    logged = session.get(f"{root}/_fake/requests", timeout=5).json()
    assert [entry["kind"] for entry in logged] == ["quiz", "quiz"]
    session.post(f"{root}/_fake/reset", timeout=5)
    assert fake.count() == 0
