"""A YouTube source from end to end, through YOUTUBE_PROXY_URL.

No test reaches the internet: youtube-transcript-api and yt-dlp are pointed
at an intercepting proxy on 127.0.0.1 (tests/fake_proxy.py) that demands
credentials, ends each CONNECT tunnel with a certificate for YouTube's hosts
signed by a CA made for the test, and answers as YouTube does (the fake of
tests/fakes.py: watch page, player JSON, timedtext, audio). Since nothing
else can reach www.youtube.com from a test, what the proxy saw is what was
fetched.
"""

import base64
import logging
import tempfile

import certifi
import pytest
from django.test import override_settings

from notes.models import Source
from pipeline import ratelimit
from pipeline.extractors.base import ExtractionError
from pipeline.extractors.youtube import extract_youtube
from pipeline.models import JobRecord
from tests.fake_proxy import InterceptingProxy, TestCA, free_port
from tests.fakes import (
    TONE_WORDS,
    YOUTUBE_MEDIA_HOST,
    FakeOpenAI,
    FakeYouTubeAdapter,
    encode_audio,
    tone_audio,
    transcribe_tones,
)

from .pipeline_helpers import submit, wait_until_final

VID = "dQw4w9WgXcQ"
PROXY_USER = "studynaut-user"
PROXY_PASSWORD = "pr0xy-Pa55word-SECRET"
YOUTUBE_HOSTS = ["www.youtube.com", "*.googlevideo.com"]
WORDS = list(TONE_WORDS[:12])
KEY = "sk-test-YOUTUBEkey0123456789"


@pytest.fixture
def test_ca(monkeypatch):
    """Both clients trust the test CA for this test: requests through its
    documented REQUESTS_CA_BUNDLE; yt-dlp loads certifi's bundle and has no
    option for another, so certifi points at the test CA's."""
    ca = TestCA()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca.bundle)
    monkeypatch.setattr(certifi, "where", lambda: ca.bundle)
    yield ca
    ca.close()


@pytest.fixture
def youtube():
    """The fake YouTube behind the proxy; tests change its scenario and content."""
    return FakeYouTubeAdapter(
        title="Photosynthesis, from light to sugar",
        duration=60,
        tracks=[
            {
                "lang": "en",
                "name": "English",
                "lines": [("Welcome to the lecture.", 0.0), ("Plants need light.", 4.0)],
            }
        ],
    )


@pytest.fixture
def proxy(test_ca, youtube):
    with (
        InterceptingProxy(
            youtube.proxy_app, ca=test_ca, hosts=YOUTUBE_HOSTS, credentials=f"{PROXY_USER}:{PROXY_PASSWORD}"
        ) as running,
        override_settings(YOUTUBE_PROXY_URL=running.url()),
    ):
        yield running


@pytest.fixture
def transcriber():
    """A configured transcription provider that hears the fake's tone words."""
    with (
        FakeOpenAI() as fake,
        override_settings(
            OPENAI_API_KEY=KEY,
            OPENAI_BASE_URL=fake.base_url,
            OPENAI_RPM=100_000,
        ),
    ):
        ratelimit.reset_memory()
        fake.set_default("transcription", transcribe_tones())
        yield fake
        ratelimit.reset_memory()


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def secrets_in(text: str) -> list[str]:
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    return [secret for secret in (PROXY_PASSWORD, basic) if secret in text]


# --- through the proxy -------------------------------------------------------------------------


def test_every_youtube_request_goes_through_the_proxy_with_its_credentials(proxy, youtube):
    extracted = extract_youtube(VID)

    assert extracted.text == "Welcome to the lecture. Plants need light."
    assert extracted.title == "Photosynthesis, from light to sugar"
    # The metadata (yt-dlp) and the transcript (youtube-transcript-api), each
    # over https in a tunnel through the proxy, which took our credentials.
    assert [(r.method, r.url.split("?")[0]) for r in proxy.requests] == [
        ("GET", "https://www.youtube.com/watch"),
        ("POST", "https://www.youtube.com/youtubei/v1/player"),
        ("GET", "https://www.youtube.com/watch"),
        ("POST", "https://www.youtube.com/youtubei/v1/player"),
        ("GET", "https://www.youtube.com/api/timedtext"),
    ]
    assert all(request.tunnelled for request in proxy.requests)
    assert set(proxy.log.connects) == {"www.youtube.com:443"}
    assert proxy.log.refused == 0
    # And YouTube saw those requests and no other.
    assert [url for _, url in youtube.log] == proxy.urls()


def test_the_setting_wins_over_proxy_variables_in_the_environment(proxy, monkeypatch):
    elsewhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, elsewhere)

    assert extract_youtube(VID).text == "Welcome to the lecture. Plants need light."
    assert len(proxy.requests) == 5


def test_a_blocked_request_is_transient_and_names_the_setting_then_it_works(proxy, youtube):
    youtube.block_first = 1  # YouTube's bot check, once

    with pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert caught.value.transient
    assert "YOUTUBE_PROXY_URL" in caught.value.message
    assert "try again later" in caught.value.message
    assert extract_youtube(VID).text.startswith("Welcome to the lecture.")


def test_wrong_proxy_credentials_are_a_permanent_error_without_the_password(test_ca, youtube):
    with InterceptingProxy(
        youtube.proxy_app, ca=test_ca, hosts=YOUTUBE_HOSTS, credentials=f"{PROXY_USER}:the-right-one"
    ) as running:
        wrong = running.url().replace("the-right-one", PROXY_PASSWORD)
        with override_settings(YOUTUBE_PROXY_URL=wrong), pytest.raises(ExtractionError) as caught:
            extract_youtube(VID)

    assert not caught.value.transient
    assert "YOUTUBE_PROXY_URL" in caught.value.message
    assert "407" in caught.value.message
    assert secrets_in(str(caught.value)) == []
    assert running.log.refused >= 1
    assert youtube.log == []


def test_a_proxy_that_is_down_is_a_transient_error(test_ca):
    down = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{free_port()}"
    with override_settings(YOUTUBE_PROXY_URL=down), pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert caught.value.transient
    assert "YOUTUBE_PROXY_URL" in caught.value.message
    assert secrets_in(str(caught.value)) == []


@pytest.mark.parametrize(
    "value",
    [
        "socks5://user:pw-SECRET@127.0.0.1:1080",
        "user:pw-SECRET@127.0.0.1:3128",
        "http://user:pw-SECRET@",
        "http://user:pw-SECRET@127.0.0.1:port",
    ],
)
def test_a_proxy_setting_that_is_not_an_http_proxy_url_is_refused_without_repeating_it(value):
    with override_settings(YOUTUBE_PROXY_URL=value), pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert not caught.value.transient
    assert "YOUTUBE_PROXY_URL" in caught.value.message
    assert "pw-SECRET" not in caught.value.message


# --- metadata ----------------------------------------------------------------------------------


def test_chapters_become_sections_anchored_at_their_start(proxy, youtube):
    youtube.chapters = [(0, "Introduction"), (20, "Light reactions"), (40, "The Calvin cycle")]
    youtube.tracks = [
        {
            "lang": "en",
            "lines": [
                ("Welcome.", 0.0),
                ("Today, photosynthesis.", 2.0),
                ("Light splits water.", 19.8),  # spoken as the chapter begins
                ("Oxygen escapes.", 22.0),
                ("Carbon dioxide enters.", 41.0),
                ("Sugar is built.", 43.5),
            ],
        }
    ]

    extracted = extract_youtube(VID)

    assert extracted.text == (
        "## Introduction\n\nWelcome. Today, photosynthesis.\n\n"
        "## Light reactions\n\nLight splits water. Oxygen escapes.\n\n"
        "## The Calvin cycle\n\nCarbon dioxide enters. Sugar is built."
    )
    timed = {extracted.text[a.offset :].split("\n")[0]: a.seconds for a in extracted.anchors}
    assert timed["## Introduction"] == 0.0
    assert timed["## Light reactions"] == 20.0
    assert timed["## The Calvin cycle"] == 40.0
    assert timed["Light splits water. Oxygen escapes."] == 19.8
    assert timed["Carbon dioxide enters. Sugar is built."] == 41.0


def test_a_video_over_the_maximum_duration_is_refused_before_any_download(proxy, youtube, transcriber):
    youtube.duration = 5 * 3600
    youtube.scenario = "disabled"  # no captions: the audio would be next

    with pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert not caught.value.transient
    assert "5 h 00 min" in caught.value.message
    assert "4 h 00 min" in caught.value.message
    assert "YOUTUBE_MAX_DURATION" in caught.value.message
    # Only the metadata was read: no transcript, no media.
    assert [r.url.split("?")[0] for r in proxy.requests] == [
        "https://www.youtube.com/watch",
        "https://www.youtube.com/youtubei/v1/player",
    ]
    assert youtube.media_requests() == []
    assert transcriber.count() == 0


def test_the_maximum_duration_is_a_setting(proxy, youtube):
    youtube.duration = 90
    with override_settings(YOUTUBE_MAX_DURATION=60), pytest.raises(ExtractionError, match="2 min"):
        extract_youtube(VID)


# --- audio when there is no transcript ----------------------------------------------------------


def test_without_captions_the_audio_is_downloaded_and_transcribed(proxy, youtube, transcriber, temp_dir):
    youtube.scenario = "disabled"
    youtube.chapters = [(0, "Light"), (6, "Water")]
    youtube.audio = encode_audio(tone_audio(WORDS), "m4a")

    extracted = extract_youtube(VID)

    assert extracted.text == ("## Light\n\n" + " ".join(WORDS[:6]) + "\n\n## Water\n\n" + " ".join(WORDS[6:]))
    assert extracted.title == "Photosynthesis, from light to sugar"
    words = [a for a in extracted.anchors if not extracted.text[a.offset :].startswith("##")]
    assert [a.seconds for a in words] == [float(second) for second in range(len(WORDS))]
    # The audio came from YouTube's media host, through the proxy, and went
    # whole (it fits the upload limit) to the transcription.
    assert [r.host for r in proxy.requests if r.host == YOUTUBE_MEDIA_HOST]
    assert all(r.tunnelled for r in proxy.requests)
    assert f"{YOUTUBE_MEDIA_HOST}:443" in proxy.log.connects
    ((filename, size),) = [r.files["file"] for r in transcriber.calls("transcription")]
    assert filename == "audio.m4a"
    assert size == len(youtube.audio)
    assert list(temp_dir.iterdir()) == []


def test_long_video_audio_is_split_for_the_upload_limit(proxy, youtube, transcriber, temp_dir):
    youtube.scenario = "disabled"
    youtube.audio = encode_audio(tone_audio(WORDS), "m4a")

    with override_settings(
        OPENAI_TRANSCRIBE_MAX_BYTES=len(youtube.audio) - 1,
        AUDIO_SEGMENT_SECONDS=8,
        AUDIO_SEGMENT_OVERLAP_SECONDS=2,
    ):
        extracted = extract_youtube(VID)

    assert transcriber.count("transcription") == 2  # 0-8 and 6-12
    assert extracted.text.split() == WORDS
    assert list(temp_dir.iterdir()) == []


def test_the_download_is_deleted_when_the_transcription_fails(proxy, youtube, transcriber, temp_dir):
    from tests.fakes import error

    youtube.scenario = "disabled"
    youtube.audio = encode_audio(tone_audio(WORDS), "m4a")
    transcriber.script("transcription", [error(503)])

    with pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert caught.value.transient
    assert youtube.media_requests()
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("announced", [True, False], ids=["size announced", "size unknown"])
def test_audio_over_the_download_limit_is_refused_and_deleted(
    proxy, youtube, transcriber, temp_dir, announced
):
    youtube.scenario = "disabled"
    youtube.audio = encode_audio(tone_audio(WORDS), "m4a")
    youtube.announce_size = announced

    with (
        override_settings(YOUTUBE_MAX_AUDIO_BYTES=len(youtube.audio) // 2),
        pytest.raises(ExtractionError) as caught,
    ):
        extract_youtube(VID)

    assert not caught.value.transient
    assert "YOUTUBE_MAX_AUDIO_BYTES" in caught.value.message
    assert transcriber.count() == 0
    assert list(temp_dir.iterdir()) == []


def test_audio_is_only_downloaded_from_youtubes_media_hosts(proxy, youtube, transcriber):
    youtube.scenario = "disabled"
    youtube.media_host = "media.example.net"

    with pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert not caught.value.transient
    assert "no audio we can download" in caught.value.message
    assert not [connect for connect in proxy.log.connects if "example" in connect]
    assert transcriber.count() == 0


def test_yt_dlp_here_knows_no_site_but_youtube(proxy):
    from yt_dlp.utils import DownloadError

    from pipeline.extractors.ytdlp import _youtube_dl

    with _youtube_dl() as ydl, pytest.raises(DownloadError, match="No suitable extractor"):
        ydl.extract_info("https://example.com/lecture.mp4", download=False)
    with _youtube_dl() as ydl, pytest.raises(DownloadError, match="No suitable extractor"):
        ydl.extract_info(f"https://www.youtube.com/playlist?list=PL{VID}", download=False)
    assert proxy.log.connects == []


def test_without_captions_and_without_a_key_it_says_a_key_would_transcribe_the_audio(proxy, youtube):
    youtube.scenario = "disabled"

    with override_settings(OPENAI_API_KEY=""), pytest.raises(ExtractionError) as caught:
        extract_youtube(VID)

    assert not caught.value.transient
    assert "no captions" in caught.value.message
    assert "subtitles are disabled" in caught.value.message
    assert "OPENAI_API_KEY" in caught.value.message
    assert "transcribe its audio" in caught.value.message
    assert youtube.media_requests() == []


# --- in the pipeline -----------------------------------------------------------------------------


@pytest.mark.usefixtures("offline")
def test_a_blocked_youtube_source_is_retried_and_completes(celery_worker, user, proxy, youtube):
    youtube.block_first = 1
    youtube.chapters = [(0, "Welcome"), (4, "Light")]

    source = wait_until_final(submit(user, kind=Source.Kind.YOUTUBE, url=f"https://youtu.be/{VID}"))

    assert source.processing_status == Source.Status.COMPLETED, source.error_message
    assert source.title == "Photosynthesis, from light to sugar"
    assert source.extracted_text == "## Welcome\n\nWelcome to the lecture.\n\n## Light\n\nPlants need light."
    retried = JobRecord.objects.get(
        source=source, job_type="EXTRACT_SOURCE_TEXT", state=JobRecord.State.RETRY
    )
    assert "YOUTUBE_PROXY_URL" in retried.error


@pytest.mark.usefixtures("offline")
def test_the_proxy_password_is_in_no_log_error_or_stored_message(
    celery_worker, user, test_ca, youtube, caplog
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="pipeline")  # it does not propagate to the root
    with InterceptingProxy(
        youtube.proxy_app, ca=test_ca, hosts=YOUTUBE_HOSTS, credentials=f"{PROXY_USER}:another-password"
    ) as running:
        wrong = running.url().replace("another-password", PROXY_PASSWORD)
        with override_settings(YOUTUBE_PROXY_URL=wrong):
            source = wait_until_final(submit(user, kind=Source.Kind.YOUTUBE, url=VID))

    assert source.processing_status == Source.Status.FAILED
    assert "YOUTUBE_PROXY_URL" in source.error_message
    assert secrets_in(source.error_message) == []
    for record in JobRecord.objects.filter(source=source):
        assert secrets_in(record.error) == []
    assert caplog.records, "the run logged something"
    for record in caplog.records:
        assert secrets_in(record.getMessage()) == [], record.getMessage()
        assert secrets_in(str(record.exc_info or "")) == []


@pytest.mark.usefixtures("offline")
def test_a_long_video_without_captions_is_transcribed_in_parallel_parts_with_its_chapters(
    celery_worker, user, proxy, youtube, transcriber, temp_dir, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    words = list(TONE_WORDS[:20])
    youtube.scenario = "disabled"
    youtube.chapters = [(0, "Light"), (10, "Water")]
    youtube.audio = encode_audio(tone_audio(words), "m4a")

    with override_settings(
        OPENAI_TRANSCRIBE_MAX_BYTES=len(youtube.audio) - 1,
        AUDIO_SEGMENT_SECONDS=8,
        AUDIO_SEGMENT_OVERLAP_SECONDS=2,
    ):
        source = wait_until_final(submit(user, kind=Source.Kind.YOUTUBE, url=VID))

    assert source.processing_stage is None, source.error_message
    assert source.title == "Photosynthesis, from light to sugar"
    assert source.extracted_text == (
        "## Light\n\n" + " ".join(words[:10]) + "\n\n## Water\n\n" + " ".join(words[10:])
    )
    # Three parts (0-8, 6-14, 12-20 s), one task each, then the join.
    parts = JobRecord.objects.filter(source=source, job_type="TRANSCRIBE_AUDIO_SEGMENT")
    assert parts.count() == transcriber.count("transcription") == 3
    assert JobRecord.objects.filter(source=source, job_type="JOIN_TRANSCRIPT").count() == 1
    assert list(temp_dir.iterdir()) == []
    kept = tmp_path / "media" / "audio-parts" / str(source.pk)
    assert not kept.exists() or not list(kept.iterdir())
