"""YouTube links and transcripts; the transcripts come from a fake transport, never the network."""

import logging

import pytest
import requests
from django.test import override_settings

from pipeline.extractors.base import Anchor, Extracted, ExtractionError
from pipeline.extractors.youtube import (
    _TimeoutSession,
    canonical_url,
    fetch_transcript,
    parse_video_id,
    redact,
    with_chapters,
)
from pipeline.extractors.ytdlp import Chapter, _Log
from tests.fakes import FakeYouTubeAdapter, fake_youtube_session

VID = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "value",
    [
        VID,
        f"  {VID}  ",
        "a-b_c-D_e-F",
        f"https://www.youtube.com/watch?v={VID}",
        f"http://www.youtube.com/watch?v={VID}",
        f"https://youtube.com/watch?v={VID}",
        f"https://m.youtube.com/watch?v={VID}",
        f"https://music.youtube.com/watch?v={VID}&list=RDAMVM",
        f"https://www.youtube.com/watch?feature=share&v={VID}&t=42s#comments",
        f"HTTPS://WWW.YOUTUBE.COM/watch?v={VID}",
        f"https://www.youtube.com:443/watch?v={VID}",
        f"https://youtu.be/{VID}",
        f"https://youtu.be/{VID}?si=abc&t=10",
        f"https://www.youtube.com/shorts/{VID}",
        f"https://youtube.com/shorts/{VID}/",
        f"https://www.youtube.com/embed/{VID}?start=5",
        f"https://www.youtube.com/live/{VID}",
        f"https://www.youtube-nocookie.com/embed/{VID}",
        f"https://youtube-nocookie.com/embed/{VID}",
    ],
)
def test_real_youtube_links_and_bare_ids_are_accepted(value):
    expected = "a-b_c-D_e-F" if "a-b_c" in value else VID
    assert parse_video_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "dQw4w9WgXc",  # 10 characters
        "dQw4w9WgXcQQ",  # 12 characters
        "dQw4w9WgXc!",
        f"https://www.youtube.com/watch?v={VID}Q",
        "https://www.youtube.com/watch?v=short",
        f"https://www.youtube.com/watch?v={VID}&v=aaaaaaaaaaa",
        "https://www.youtube.com/watch",
        f"https://www.youtube.com/{VID}",
        f"https://www.youtube.com/channel/{VID}",
        f"https://www.youtube.com/results?search_query={VID}",
        f"https://www.youtube.com/watch/{VID}",
        f"https://youtu.be/watch?v={VID}",
        f"https://youtu.be/{VID}/extra",
        f"https://www.youtube-nocookie.com/watch?v={VID}",
        f"https://music.youtube.com/shorts/{VID}",
        # other hosts and look-alikes
        f"https://vimeo.com/watch?v={VID}",
        f"https://youtube.com.evil.example/watch?v={VID}",
        f"https://evil.com/youtube.com/watch?v={VID}",
        f"https://evil.com/?u=https://youtube.com/watch?v={VID}",
        f"https://notyoutube.com/watch?v={VID}",
        f"https://www.youtube.co/watch?v={VID}",
        f"https://youtube.com./watch?v={VID}",
        f"https://www.youtu.be/{VID}",
        f"https://youtube%2Ecom/watch?v={VID}",
        # credentials
        f"https://user@youtube.com/watch?v={VID}",
        f"https://user:pw@www.youtube.com/watch?v={VID}",
        f"https://www.youtube.com@evil.example/watch?v={VID}",
        f"https://youtube.com\\@evil.example/watch?v={VID}",
        # addresses and ports
        f"https://142.250.185.78/watch?v={VID}",
        f"https://[2a00:1450:4001::200e]/watch?v={VID}",
        f"https://www.youtube.com:8080/watch?v={VID}",
        f"http://www.youtube.com:443/watch?v={VID}",
        f"https://www.youtube.com:0/watch?v={VID}",
        f"https://www.youtube.com:99999/watch?v={VID}",
        # schemes
        f"ftp://www.youtube.com/watch?v={VID}",
        f"javascript:alert('https://youtu.be/{VID}')",
        f"file:///www.youtube.com/watch?v={VID}",
        f"data:text/html,https://youtu.be/{VID}",
        f"//www.youtube.com/watch?v={VID}",
        f"www.youtube.com/watch?v={VID}",
        # whitespace and control characters inside
        f"https://www.you tube.com/watch?v={VID}",
        f"https://www.youtube.com/watch?v={VID}\n.evil.example",
        f"https://youtu.be/{VID}\t",
    ],
)
def test_everything_else_is_rejected_with_a_readable_message(value):
    if value.endswith("\t"):  # surrounding whitespace is stripped: that one is fine
        assert parse_video_id(value) == VID
        return
    with pytest.raises(ValueError) as caught:
        parse_video_id(value)
    assert "YouTube" in str(caught.value)


def test_parse_video_id_rejects_non_strings():
    with pytest.raises(ValueError):
        parse_video_id(None)  # type: ignore[arg-type]


def test_canonical_url_is_built_from_the_id_only():
    assert canonical_url(VID) == f"https://www.youtube.com/watch?v={VID}"
    with pytest.raises(ValueError):
        canonical_url("https://evil.example/")


# --- transcripts -------------------------------------------------------------------------


def test_it_fetches_the_transcript_as_text():
    session = fake_youtube_session(
        tracks=[
            {
                "lang": "en",
                "name": "English",
                "lines": ["Hello &amp; welcome.", "Today: <b>photosynthesis</b>."],
            }
        ]
    )

    text = fetch_transcript(VID, http_client=session).text

    assert text == "Hello & welcome. Today: photosynthesis."
    urls = [url for _, url in session.fake.log]
    assert urls[0] == f"https://www.youtube.com/watch?v={VID}"
    assert any("/youtubei/v1/player" in url for url in urls)
    assert urls[-1].startswith("https://www.youtube.com/api/timedtext")


def test_it_prefers_the_configured_languages_and_manual_captions():
    session = fake_youtube_session(
        tracks=[
            {"lang": "de", "name": "Deutsch", "lines": ["Hallo."]},
            {"lang": "en", "name": "English (auto)", "asr": True, "lines": ["Auto English."]},
            {"lang": "fr", "name": "Français", "lines": ["Bonjour."]},
        ]
    )
    with override_settings(YOUTUBE_LANGUAGES=["fr", "en"]):
        assert fetch_transcript(VID, http_client=session).text == "Bonjour."
    assert fetch_transcript(
        VID, languages=["en-US"], http_client=fake_youtube_session(tracks=session.fake.tracks)
    ).text == ("Auto English.")


def test_another_language_is_translated_to_the_first_preferred_one_when_possible():
    session = fake_youtube_session(
        tracks=[{"lang": "es", "name": "Español", "translatable": True, "lines": ["Hola."]}],
        translations=["en", "de"],
    )
    assert fetch_transcript(VID, languages=["de", "en"], http_client=session).text == "[de] Hola."
    assert "tlang=de" in session.fake.log[-1][1]


def test_another_language_is_used_as_it_is_when_it_cannot_be_translated():
    session = fake_youtube_session(tracks=[{"lang": "es", "name": "Español", "lines": ["Hola."]}])
    assert fetch_transcript(VID, languages=["en"], http_client=session).text == "Hola."


def test_long_pauses_become_paragraph_breaks():
    lines = [("One.", 0.0), ("Two.", 2.5), ("Three.", 12.0)]
    session = fake_youtube_session(tracks=[{"lang": "en", "lines": lines}])
    assert fetch_transcript(VID, http_client=session).text == "One. Two.\n\nThree."


@pytest.mark.parametrize(
    ("scenario", "transient", "words"),
    [
        ("disabled", False, "subtitles are disabled"),
        ("unavailable", False, "unavailable"),
        ("age_restricted", False, "age-restricted"),
        ("bot_blocked", True, "try again later"),
        ("ip_blocked", True, "try again later"),
        ("recaptcha", True, "try again later"),
        ("network_error", True, "Could not reach YouTube"),
        ("timeout", True, "did not answer in time"),
        ("server_error", True, "YouTube request failed"),
    ],
)
def test_errors_become_readable_extraction_errors(scenario, transient, words):
    with pytest.raises(ExtractionError) as caught:
        fetch_transcript(VID, http_client=fake_youtube_session(scenario))

    assert caught.value.transient is transient
    assert words in caught.value.message
    if not transient:
        assert caught.value.message.startswith("This video has no transcript we can use: ")
    if scenario in ("bot_blocked", "ip_blocked", "recaptcha"):
        assert "set YOUTUBE_PROXY_URL to route YouTube requests through a proxy" in caught.value.message
    assert "github.com" not in caught.value.message  # none of the library's long advice
    assert caught.value.__cause__ is None


def test_no_tracks_at_all_is_a_permanent_error():
    with pytest.raises(ExtractionError) as caught:
        fetch_transcript(VID, http_client=fake_youtube_session(tracks=[]))
    assert not caught.value.transient
    assert "no transcript" in caught.value.message


def test_an_empty_transcript_is_a_permanent_error():
    with pytest.raises(ExtractionError, match="empty") as caught:
        fetch_transcript(VID, http_client=fake_youtube_session(tracks=[{"lang": "en", "lines": []}]))
    assert not caught.value.transient


def test_only_a_valid_id_is_ever_fetched():
    session = fake_youtube_session()
    with pytest.raises(ExtractionError):
        fetch_transcript("https://evil.example/x", http_client=session)
    assert session.fake.log == []


def test_the_default_session_times_out():
    session = _TimeoutSession(1.5)
    adapter = FakeYouTubeAdapter()
    seen = []
    original = adapter.send

    def send(request, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(request, **kwargs)

    adapter.send = send
    session.mount("https://", adapter)
    session.get(f"https://www.youtube.com/watch?v={VID}")
    assert seen == [1.5]


def test_the_fake_transport_never_reaches_another_host():
    with pytest.raises(requests.ConnectionError):
        fake_youtube_session().get("https://example.com/")


def test_a_paragraph_starts_at_each_break_given():
    lines = [("One.", 0.0), ("Two.", 2.0), ("Three.", 4.0), ("Four.", 6.0)]
    session = fake_youtube_session(tracks=[{"lang": "en", "lines": lines}])

    extracted = fetch_transcript(VID, http_client=session, paragraph_breaks=[4.0])

    assert extracted.text == "One. Two.\n\nThree. Four."
    assert [a.seconds for a in extracted.anchors] == [0.0, 4.0]


# --- chapters ----------------------------------------------------------------------------------


def _phrases(*timed: tuple[float, str]) -> Extracted:
    text, anchors = "", []
    for seconds, phrase in timed:
        if text:
            text += " "
        anchors.append(Anchor(len(text), seconds=seconds))
        text += phrase
    return Extracted(text=text, anchors=tuple(anchors))


def test_a_chapter_heading_goes_before_its_first_phrase_even_mid_paragraph():
    extracted = _phrases((0.0, "Hello."), (5.0, "Light first."), (12.0, "Then sugar."))

    with_headings = with_chapters(extracted, [Chapter(0.0, "Start"), Chapter(10.0, "Sugar")])

    assert with_headings.text == "## Start\n\nHello. Light first.\n\n## Sugar\n\nThen sugar."
    starts = [(with_headings.text[a.offset :][:8], a.seconds) for a in with_headings.anchors]
    assert starts == [
        ("## Start", 0.0),
        ("Hello. L", 0.0),
        ("Light fi", 5.0),
        ("## Sugar", 10.0),
        ("Then sug", 12.0),
    ]


def test_chapters_without_speech_get_no_empty_heading():
    extracted = _phrases((0.0, "Hello."), (30.0, "Later."))

    chapters = [Chapter(0.0, "Start"), Chapter(10.0, "Music"), Chapter(25.0, "Later"), Chapter(99.0, "End")]

    with_headings = with_chapters(extracted, chapters)

    assert with_headings.text == "## Start\n\nHello.\n\n## Later\n\nLater."


def test_a_chapter_title_is_one_plain_heading_line():
    with_headings = with_chapters(_phrases((0.0, "Hi.")), [Chapter(0.0, "  ## Part\n one  ")])
    assert with_headings.text == "## Part one\n\nHi."


def test_no_chapters_leave_the_text_as_it_is():
    extracted = _phrases((0.0, "Hi."))
    assert with_chapters(extracted, []) is extracted


# --- the proxy's credentials --------------------------------------------------------------------

PROXY = "http://studynaut:s3cr%40t-pw@proxy.example:3128"


@override_settings(YOUTUBE_PROXY_URL=PROXY)
def test_redact_takes_out_the_proxy_url_and_its_password():
    text = f"failed via {PROXY}; auth s3cr@t-pw and s3cr%40t-pw; other http://bob:hunter2@host:1/x"

    cleaned = redact(text)

    assert "s3cr" not in cleaned
    assert "hunter2" not in cleaned
    assert "http://[redacted]@host:1/x" in cleaned


@override_settings(YOUTUBE_PROXY_URL="http://KEY0123456789@proxy.example:8001")
def test_a_key_given_as_the_proxy_user_name_is_redacted_too():
    assert redact("proxy KEY0123456789 refused") == "proxy [redacted] refused"


@override_settings(YOUTUBE_PROXY_URL=PROXY)
def test_yt_dlp_messages_reach_our_log_without_the_credentials(caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline")
    log = _Log()

    log.debug(f"[debug] Proxy map: {{'all': '{PROXY}'}}")
    log.warning(f"proxy {PROXY} is slow")
    log.error(f"ERROR: could not use {PROXY}")

    messages = [record.getMessage() for record in caplog.records if record.name.startswith("pipeline")]
    assert len(messages) == 3
    assert not [message for message in messages if "s3cr" in message]


def test_the_transcript_session_keeps_its_proxy_over_the_environments(monkeypatch):
    # requests lets HTTPS_PROXY win over a Session's proxies; ours passes them with each request.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    session = _TimeoutSession(1.0)
    session.proxies = {"https": "http://127.0.0.1:8", "http": "http://127.0.0.1:8"}
    adapter = FakeYouTubeAdapter()
    used = []
    original = adapter.send

    def send(request, **kwargs):
        used.append(kwargs.get("proxies", {}).get("https"))
        return original(request, **kwargs)

    adapter.send = send
    session.mount("https://", adapter)
    session.get(f"https://www.youtube.com/watch?v={VID}")
    assert used == ["http://127.0.0.1:8"]
