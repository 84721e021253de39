"""The registry: providers chosen from settings, the retry policy and the fallback chain."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from pipeline import ratelimit
from pipeline.providers import registry
from pipeline.providers.base import Completion, ProviderError

VALID_QUIZ = {
    "questions": [
        {"question": "2 + 2?", "options": ["3", "4"], "answerIndex": 1, "explanation": "Arithmetic."}
    ]
}


class Scripted:
    """A provider answering from a list: an exception is raised, a dict is returned as data."""

    def __init__(self, name, outcomes):
        self.name = name
        self.outcomes = list(outcomes)
        self.calls = 0

    def complete(self, call, text, *, language="", part=None):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else VALID_QUIZ
        if isinstance(outcome, BaseException):
            raise outcome
        return Completion(data=outcome, prompt_tokens=1, completion_tokens=1)

    def find_image(self, *, description, query, context=""):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "https://images.example.test/a.jpg"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture(autouse=True)
def chain_settings():
    with override_settings(
        PROVIDER_MAX_RETRIES=2,
        PROVIDER_BACKOFF_BASE=0.01,
        PROVIDER_BACKOFF_MAX=0.05,
        OPENAI_RPM=100_000,
        SERPAPI_RPM=100_000,
        CELERY_BROKER_URL="memory://",
    ):
        ratelimit.reset_memory()
        yield
        ratelimit.reset_memory()


@pytest.fixture
def sleeps(monkeypatch):
    recorded = []
    monkeypatch.setattr(registry, "sleep", recorded.append)
    return recorded


@pytest.fixture
def providers(monkeypatch):
    """Install Scripted providers by name: providers(openai=[...], local=[...])."""

    def install(**outcomes):
        made = {name: Scripted(name, items) for name, items in outcomes.items()}
        monkeypatch.setattr(registry, "make_ai_provider", lambda name: made[name])
        return made

    return install


def transient(message="server error (HTTP 503)", retry_after=None):
    return ProviderError(message, transient=True, retry_after=retry_after)


def permanent(message="rejected the request (HTTP 400)"):
    return ProviderError(message, transient=False)


class _FixedRandom:
    def __init__(self, value):
        self.value = value

    def uniform(self, low, high):
        return self.value


# --- backoff -----------------------------------------------------------------------------


def test_backoff_grows_exponentially(monkeypatch):
    monkeypatch.setattr(registry, "_random", _FixedRandom(1.0))
    with override_settings(PROVIDER_BACKOFF_BASE=1.0, PROVIDER_BACKOFF_MAX=100.0):
        assert [registry.backoff_delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_backoff_is_capped():
    with override_settings(PROVIDER_BACKOFF_BASE=1.0, PROVIDER_BACKOFF_MAX=20.0):
        delays = [registry.backoff_delay(n) for n in range(60) for _ in range(5)]
    assert max(delays) == pytest.approx(20.0)
    assert all(0 <= d <= 20.0 for d in delays)


def test_backoff_is_jittered_between_half_and_one_and_a_half():
    with override_settings(PROVIDER_BACKOFF_BASE=1.0, PROVIDER_BACKOFF_MAX=100.0):
        delays = [registry.backoff_delay(2) for _ in range(300)]
    assert all(2.0 <= d <= 6.0 for d in delays)
    assert len(set(delays)) > 250
    assert min(delays) < 3.0 and max(delays) > 5.0


def test_backoff_honours_retry_after_up_to_the_cap():
    with override_settings(PROVIDER_BACKOFF_BASE=0.01, PROVIDER_BACKOFF_MAX=20.0):
        assert registry.backoff_delay(0, retry_after=3) == 3
        assert registry.backoff_delay(1, retry_after=0) < 0.1
        assert registry.backoff_delay(0, retry_after=120) == 20.0


# --- choosing providers ------------------------------------------------------------------


@pytest.mark.parametrize("names", [["openai", "local"], ["local", "openai"], ["local"]])
def test_providers_come_in_the_order_of_ai_providers(names):
    with override_settings(AI_PROVIDERS=names):
        assert [p.name for p in registry.ai_providers()] == names


def test_an_unknown_ai_provider_name_is_improperly_configured():
    with override_settings(AI_PROVIDERS=["openai", "gpt-magic"]):
        with pytest.raises(ImproperlyConfigured, match="gpt-magic"):
            registry.ai_providers()
        with pytest.raises(ImproperlyConfigured):
            registry.ai_complete("quiz", "text")


def test_an_empty_provider_list_is_improperly_configured():
    with override_settings(AI_PROVIDERS=[]), pytest.raises(ImproperlyConfigured):
        registry.ai_providers()


def test_the_image_provider_comes_from_settings():
    with override_settings(IMAGE_PROVIDER="serpapi"):
        assert registry.image_provider().name == "serpapi"
    with override_settings(IMAGE_PROVIDER="offline"):
        assert registry.image_provider().name == "offline"


def test_an_unknown_image_provider_is_improperly_configured():
    with override_settings(IMAGE_PROVIDER="bing"), pytest.raises(ImproperlyConfigured, match="bing"):
        registry.image_provider()


# --- the chain ---------------------------------------------------------------------------


def test_transient_errors_retry_the_same_provider_then_the_next(providers, sleeps):
    made = providers(openai=[transient(), transient(), transient()], local=[VALID_QUIZ])
    attempts = []

    with override_settings(AI_PROVIDERS=["openai", "local"]):
        model, completion, name = registry.ai_complete("quiz", "t", on_attempt=lambda *a: attempts.append(a))

    assert name == "local"
    assert model.questions[0].answerIndex == 1
    assert completion.data == VALID_QUIZ
    assert made["openai"].calls == 3  # 1 + PROVIDER_MAX_RETRIES
    assert len(sleeps) == 2
    assert all(0 < s <= 0.05 for s in sleeps)
    assert [(a[0], a[1]) for a in attempts] == [("openai", 1), ("openai", 2), ("openai", 3), ("local", 1)]
    assert attempts[-1][2] is None


def test_a_transient_error_then_success_stays_with_the_provider(providers, sleeps):
    made = providers(openai=[transient(), VALID_QUIZ], local=[])
    with override_settings(AI_PROVIDERS=["openai", "local"]):
        _, _, name = registry.ai_complete("quiz", "t")
    assert name == "openai"
    assert made["local"].calls == 0
    assert len(sleeps) == 1


def test_permanent_errors_move_on_at_once(providers, sleeps):
    made = providers(openai=[permanent()], local=[VALID_QUIZ])
    with override_settings(AI_PROVIDERS=["openai", "local"]):
        _, _, name = registry.ai_complete("quiz", "t")
    assert name == "local"
    assert made["openai"].calls == 1
    assert sleeps == []


def test_a_schema_violation_moves_on_to_the_next_provider(providers, sleeps):
    made = providers(
        openai=[{"questions": [{"question": "q", "options": ["a"], "answerIndex": 5}]}], local=[]
    )
    with override_settings(AI_PROVIDERS=["openai", "local"]):
        _, _, name = registry.ai_complete("quiz", "t")
    assert name == "local"
    assert made["openai"].calls == 1
    assert sleeps == []


def test_no_retries_when_max_retries_is_zero(providers, sleeps):
    made = providers(openai=[transient()], local=[])
    with override_settings(AI_PROVIDERS=["openai", "local"], PROVIDER_MAX_RETRIES=0):
        registry.ai_complete("quiz", "t")
    assert made["openai"].calls == 1
    assert sleeps == []


def test_a_retry_after_pauses_the_provider_for_all_workers(providers, sleeps, monkeypatch):
    paused = []
    monkeypatch.setattr(ratelimit, "pause", lambda name, seconds: paused.append((name, seconds)))
    providers(openai=[transient("rate limit (HTTP 429)", retry_after=0.03), VALID_QUIZ])

    with override_settings(AI_PROVIDERS=["openai"]):
        registry.ai_complete("quiz", "t")

    assert paused == [("openai", 0.03)]
    assert sleeps[0] >= 0.03


def test_every_attempt_at_a_network_provider_takes_a_rate_limit_token(providers, sleeps, monkeypatch):
    taken = []
    monkeypatch.setattr(ratelimit, "acquire", lambda name, rpm, **kw: taken.append((name, rpm)))
    providers(openai=[transient(), VALID_QUIZ], local=[])

    with override_settings(AI_PROVIDERS=["local", "openai"], OPENAI_RPM=42):
        registry.ai_complete("quiz", "t")
    providers(openai=[transient(), VALID_QUIZ], local=[permanent()])
    with override_settings(AI_PROVIDERS=["local", "openai"], OPENAI_RPM=42):
        registry.ai_complete("quiz", "t")

    assert taken == [
        ("openai", 42),
        ("openai", 42),
    ]  # local is not limited; the first call never reached openai


def test_a_rate_limit_wait_that_is_too_long_counts_as_a_transient_failure(providers, sleeps, monkeypatch):
    def busy(name, rpm, **kw):
        raise ProviderError("rate limit: try later", transient=True, retry_after=30, provider=name)

    monkeypatch.setattr(ratelimit, "acquire", busy)
    made = providers(openai=[], local=[])

    with override_settings(AI_PROVIDERS=["openai", "local"]):
        _, _, name = registry.ai_complete("quiz", "t")

    assert name == "local"
    assert made["openai"].calls == 0
    assert len(sleeps) == 2


def test_all_failing_gives_one_combined_readable_message(providers, sleeps):
    providers(
        openai=[permanent("OpenAI rejected the request (HTTP 400)")], local=[permanent("the text is empty")]
    )

    with override_settings(AI_PROVIDERS=["openai", "local"]), pytest.raises(ProviderError) as caught:
        registry.ai_complete("quiz", "t")

    assert caught.value.message == (
        "all AI providers failed: openai: OpenAI rejected the request (HTTP 400); local: the text is empty"
    )
    assert not caught.value.transient


def test_an_unexpected_exception_in_a_provider_moves_on(providers, sleeps):
    providers(openai=[RuntimeError("boom")], local=[])
    with override_settings(AI_PROVIDERS=["openai", "local"]):
        _, _, name = registry.ai_complete("quiz", "t")
    assert name == "local"


def test_celery_time_limits_are_not_swallowed(providers, sleeps):
    from celery.exceptions import SoftTimeLimitExceeded

    made = providers(openai=[SoftTimeLimitExceeded()], local=[])
    with override_settings(AI_PROVIDERS=["openai", "local"]), pytest.raises(SoftTimeLimitExceeded):
        registry.ai_complete("quiz", "t")
    assert made["local"].calls == 0


def test_the_real_local_provider_answers_every_call():
    text = (
        "Photosynthesis converts light energy into chemical energy in chloroplasts. "
        "Chlorophyll absorbs red and blue light. The Calvin cycle fixes carbon dioxide into glucose. "
        "Cellular respiration releases the energy stored in glucose inside mitochondria."
    )
    with override_settings(AI_PROVIDERS=["local"]):
        for call in ("lesson_structure", "quiz", "flashcards"):
            _, _, name = registry.ai_complete(call, text)
            assert name == "local"


# --- images ----------------------------------------------------------------------------


def test_find_image_retries_transient_errors(monkeypatch, sleeps):
    provider = Scripted("serpapi", [transient(), "https://images.example.test/b.jpg"])
    monkeypatch.setattr(registry, "image_provider", lambda: provider)

    assert registry.find_image(description="d", query="q") == ("https://images.example.test/b.jpg", "serpapi")
    assert provider.calls == 2
    assert len(sleeps) == 1


def test_find_image_gives_up_after_the_retries_with_the_last_error(monkeypatch, sleeps):
    provider = Scripted("serpapi", [transient("a"), transient("b"), transient("c")])
    monkeypatch.setattr(registry, "image_provider", lambda: provider)

    with pytest.raises(ProviderError) as caught:
        registry.find_image(description="d", query="q")

    assert caught.value.message == "c"
    assert caught.value.provider == "serpapi"
    assert provider.calls == 3


def test_find_image_does_not_retry_permanent_errors(monkeypatch, sleeps):
    provider = Scripted("serpapi", [permanent("no usable image found for 'q'")])
    monkeypatch.setattr(registry, "image_provider", lambda: provider)

    with pytest.raises(ProviderError, match="no usable image"):
        registry.find_image(description="d", query="q")
    assert provider.calls == 1
    assert sleeps == []
