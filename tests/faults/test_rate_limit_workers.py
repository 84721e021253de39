"""The requests-per-minute limit of a provider holds across worker
processes: two workers together never call SerpAPI faster than the shared
budget allows, and a request over the limit waits instead of failing."""

import pytest

from notes.models import Source, Visual

from ..conftest import wait_for
from ..fakes import ok
from .conftest import FINAL, LECTURE
from .test_load import FIVE_VISUALS

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

RPM = 120  # one request every 0.5 s once the burst is spent
BURST = RPM // 10
SOURCES = 4  # 20 image searches: unlimited, they all go out within a second


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = start = 0
    for end in range(len(times)):
        while times[end] - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_two_workers_share_one_rate_limit_and_wait_instead_of_failing(stack, openai_fake, serpapi_fake):
    openai_fake.set_default("lesson_structure", ok(FIVE_VISUALS))
    stack.env["SERPAPI_RPM"] = str(RPM)
    stack.worker("w1", concurrency=4)
    stack.worker("w2", concurrency=4)
    api = stack.web().register()

    ids = [api.submit(LECTURE, f"Limited {n}") for n in range(SOURCES)]
    sources = Source.objects.filter(pk__in=ids)
    wait_for(
        lambda: sources.filter(processing_status__in=FINAL).count() == SOURCES,
        timeout=120,
        interval=0.5,
        message="all sources to finish",
    )

    assert sources.filter(processing_status=Source.Status.COMPLETED).count() == SOURCES
    assert not Visual.objects.filter(source__in=sources).exclude(status=Visual.Status.COMPLETED).exists()
    searches = [request.time for request in serpapi_fake.requests]
    assert len(searches) == SOURCES * 5
    # In any 2 s: at most the burst plus what the rate refills (4), with one
    # request of slack for clock granularity between processes.
    assert most_in_any_window(searches, 2.0) <= BURST + 2 / (60 / RPM) + 1
    assert max(searches) - min(searches) >= (len(searches) - BURST) * (60 / RPM) * 0.9
