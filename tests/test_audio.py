"""Audio transcription with the real SDK against FakeOpenAI (multipart upload),
and long audio cut by ffmpeg, transcribed in parts and joined."""

import io
import tempfile

import pytest
from django.test import override_settings

from pipeline import ratelimit
from pipeline.extractors.audio import (
    Segment,
    cut_parts,
    join_transcripts,
    plan_segments,
    transcribe_audio,
    transcribe_part,
)
from pipeline.extractors.base import Anchor, Extracted, ExtractionError
from tests.fakes import (
    TONE_WORDS,
    FakeOpenAI,
    delay,
    encode_audio,
    error,
    hear_tones,
    ok,
    tone_audio,
    transcribe_tones,
)

KEY = "sk-test-AUDIOkey0123456789abcdef"
AUDIO = b"ID3\x03\x00\x00\x00" + b"\x00fake mp3 frames" * 64
WORDS = list(TONE_WORDS[:20])  # 20 s of audio, one word a second


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def provider_settings(fake):
    with override_settings(
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_TRANSCRIBE_MODEL="fake-whisper",
        PROVIDER_TIMEOUT=2.0,
        OPENAI_RPM=100_000,
        CELERY_BROKER_URL="memory://",
    ):
        ratelimit.reset_memory()
        yield
        ratelimit.reset_memory()


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """Every temporary file goes under this directory (tempfile's documented
    ``tempdir``), so a test can see that none is left behind."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def small_limit():
    """An upload limit of 100 kB: the 20 s test recording (320 kB as WAV) is
    cut into parts of 8 s overlapping by 2 s (0-8, 6-14, 12-20)."""
    with override_settings(
        OPENAI_TRANSCRIBE_MAX_BYTES=100_000, AUDIO_SEGMENT_SECONDS=8, AUDIO_SEGMENT_OVERLAP_SECONDS=2
    ):
        yield


# --- one upload ------------------------------------------------------------------------------


def test_it_uploads_the_file_and_returns_the_text(fake):
    text = transcribe_audio(io.BytesIO(AUDIO), filename="lecture.mp3").text

    assert text == FakeOpenAI.transcription_text
    (request,) = fake.calls("transcription")
    assert request.path == "/v1/audio/transcriptions"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.form["model"] == "fake-whisper"
    assert request.files["file"] == ("lecture.mp3", len(AUDIO))
    assert request.uploads["file"] == AUDIO
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_it_asks_for_timestamps_and_anchors_each_phrase_at_its_second(fake):
    fake.script(
        "transcription",
        [
            ok(
                data={
                    "text": "Hello students. Today: light. Much later.",
                    "segments": [
                        {"id": 0, "start": 0.0, "end": 1.5, "text": " Hello students."},
                        {"id": 1, "start": 1.5, "end": 3.0, "text": " Today: light."},
                        {"id": 2, "start": 9.25, "end": 10.0, "text": " Much later."},
                    ],
                    "duration": 10.0,
                    "language": "english",
                }
            )
        ],
    )

    extracted = transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")

    assert fake.calls("transcription")[0].form["response_format"] == "verbose_json"
    # A pause of 2 s or more starts a paragraph.
    assert extracted.text == "Hello students. Today: light.\n\nMuch later."
    assert [(a.offset, a.seconds) for a in extracted.anchors] == [(0, 0.0), (16, 1.5), (31, 9.25)]


def test_a_model_without_timestamps_gets_plain_json_and_one_anchor(fake):
    fake.script(
        "transcription",
        [error(400, message="response_format 'verbose_json' is not compatible with model"), ok(data="Hi.")],
    )

    extracted = transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")

    first, second = fake.calls("transcription")
    assert first.form["response_format"] == "verbose_json"
    assert "response_format" not in second.form
    assert second.files["file"] == ("a.mp3", len(AUDIO))  # the whole file again
    assert extracted.text == "Hi."
    assert extracted.anchors == (Anchor(0, seconds=0.0),)


def test_it_uploads_the_whole_file_wherever_its_position_was(fake):
    stream = io.BytesIO(AUDIO)
    stream.seek(100)
    transcribe_audio(stream, filename="a.wav")
    assert fake.calls("transcription")[0].files["file"] == ("a.wav", len(AUDIO))


def test_a_scripted_transcript_is_returned_stripped(fake):
    fake.script("transcription", [ok(data="  Hello students.  ")])
    assert transcribe_audio(io.BytesIO(AUDIO), filename="a.m4a").text == "Hello students."


def test_without_a_key_it_asks_for_one(fake):
    with override_settings(OPENAI_API_KEY=""), pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert "audio needs a transcription provider" in caught.value.message
    assert "OPENAI_API_KEY" in caught.value.message
    assert not caught.value.transient
    assert fake.count() == 0


def test_a_file_of_exactly_the_limit_is_sent_whole(fake):
    with override_settings(OPENAI_TRANSCRIBE_MAX_BYTES=len(AUDIO)):
        transcribe_audio(io.BytesIO(AUDIO), filename="big.mp3")
    assert fake.calls("transcription")[0].files["file"] == ("big.mp3", len(AUDIO))


def test_an_empty_file_is_refused(fake):
    with pytest.raises(ExtractionError, match="empty"):
        transcribe_audio(io.BytesIO(b""), filename="a.mp3")
    assert fake.count() == 0


@pytest.mark.parametrize(
    ("status", "transient"), [(429, True), (500, True), (503, True), (400, False), (401, False)]
)
def test_errors_are_mapped_to_transient_or_permanent(fake, status, transient):
    fake.script("transcription", [error(status, message=f"failure with {KEY}")])
    with pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert caught.value.transient is transient
    assert f"HTTP {status}" in caught.value.message
    assert KEY not in caught.value.message
    assert caught.value.__cause__ is None


def test_a_timeout_is_transient(fake):
    fake.script("transcription", [delay(1.5)])
    with override_settings(OPENAI_TRANSCRIBE_TIMEOUT=0.5), pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert caught.value.transient
    assert "in time" in caught.value.message


def test_silence_is_a_permanent_error(fake):
    fake.script("transcription", [ok(data="   ")])
    with pytest.raises(ExtractionError, match="no speech") as caught:
        transcribe_audio(io.BytesIO(AUDIO), filename="a.mp3")
    assert not caught.value.transient


# --- long audio --------------------------------------------------------------------------------


def test_the_tone_recording_says_its_words():
    # The fake recogniser the next tests rely on hears what the recording says.
    assert hear_tones(tone_audio(WORDS)) == list(enumerate(WORDS))


def test_audio_over_the_limit_is_split_transcribed_in_parts_and_joined(fake, small_limit, temp_dir):
    fake.set_default("transcription", transcribe_tones())
    recording = tone_audio(WORDS)
    assert len(recording) > 100_000

    extracted = transcribe_audio(io.BytesIO(recording), filename="lecture.wav")

    uploads = fake.calls("transcription")
    assert len(uploads) == 3
    assert all(len(upload.uploads["file"]) <= 100_000 for upload in uploads)
    # Each part holds its own stretch of the recording, overlaps included.
    assert [hear_tones(upload.uploads["file"])[0][1] for upload in uploads] == [WORDS[0], WORDS[6], WORDS[12]]
    # Joined in order, the two words of each overlap once.
    assert extracted.text.split() == WORDS
    # Every word is anchored at the second it is said in the whole recording.
    assert [(anchor.seconds, extracted.text[anchor.offset :].split()[0]) for anchor in extracted.anchors] == [
        (float(second), word) for second, word in enumerate(WORDS)
    ]
    assert list(temp_dir.iterdir()) == []


def test_compressed_audio_is_split_too(fake, temp_dir):
    fake.set_default("transcription", transcribe_tones())
    recording = encode_audio(tone_audio(WORDS), "m4a")
    with override_settings(
        OPENAI_TRANSCRIBE_MAX_BYTES=len(recording) - 1,
        AUDIO_SEGMENT_SECONDS=12,
        AUDIO_SEGMENT_OVERLAP_SECONDS=3,
    ):
        extracted = transcribe_audio(io.BytesIO(recording), filename="lecture.m4a")

    assert fake.count("transcription") == 2  # 0-12 and 9-20
    assert extracted.text.split() == WORDS
    assert list(temp_dir.iterdir()) == []


def test_temporary_files_are_deleted_when_a_part_fails(fake, small_limit, temp_dir):
    fake.script("transcription", [transcribe_tones(), error(500)])

    with pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(tone_audio(WORDS)), filename="lecture.wav")

    assert caught.value.transient
    assert fake.count("transcription") == 2
    assert list(temp_dir.iterdir()) == []


def test_a_large_file_that_is_not_audio_is_refused_without_an_upload(fake, small_limit, temp_dir):
    # A playlist would make a careless ffmpeg read other files; it is not even opened as one.
    secret = temp_dir.parent / "secret.wav"
    secret.write_bytes(tone_audio(WORDS))
    playlist = b"#EXTM3U\n" + b"".join(b"#EXTINF:1,\n%s\n" % str(secret).encode() for _ in range(5000))

    with pytest.raises(ExtractionError) as caught:
        transcribe_audio(io.BytesIO(playlist), filename="lecture.m3u8")

    assert "not audio we can read" in caught.value.message
    assert not caught.value.transient
    assert fake.count() == 0
    assert list(temp_dir.iterdir()) == []


def test_plan_segments_covers_the_recording_with_overlaps(tmp_path, small_limit):
    path = tmp_path / "lecture.wav"
    path.write_bytes(tone_audio(WORDS))

    segments = plan_segments(path)

    assert segments == [
        Segment(0, start_seconds=0.0, duration_seconds=8.0),
        Segment(1, start_seconds=6.0, duration_seconds=8.0),
        Segment(2, start_seconds=12.0, duration_seconds=None),  # to the end, whatever its length
    ]
    assert [Segment.from_dict(segment.as_dict()) for segment in segments] == segments


def test_a_file_within_the_limit_is_one_whole_segment(tmp_path):
    path = tmp_path / "lecture.mp3"
    path.write_bytes(AUDIO)
    assert plan_segments(path) == [Segment(0)]


def test_a_segment_is_transcribed_with_seconds_of_the_whole_recording(fake, tmp_path, small_limit):
    fake.set_default("transcription", transcribe_tones())
    path = tmp_path / "lecture.wav"
    path.write_bytes(tone_audio(WORDS))

    second = cut_parts(path, directory=tmp_path)[1]
    assert second.segment.start_seconds == 6.0

    part = transcribe_part(second.path, start_seconds=second.segment.start_seconds)

    assert part.text.split() == WORDS[6:14]
    assert [anchor.seconds for anchor in part.anchors] == [float(second) for second in range(6, 14)]


# --- joining -------------------------------------------------------------------------------------


def _timed(words: str, start: int) -> Extracted:
    """Words one second apart from ``start``, each anchored."""
    text, anchors = "", []
    for second, word in enumerate(words.split(), start=start):
        if text:
            text += " "
        anchors.append(Anchor(len(text), seconds=float(second)))
        text += word
    return Extracted(text=text, anchors=tuple(anchors))


def test_join_keeps_the_words_of_an_overlap_once():
    first = _timed("the light reactions happen in the thylakoid membrane", 0)
    second = _timed("thylakoid membrane while the Calvin cycle", 6)

    joined = join_transcripts([first, second])

    assert joined.text == "the light reactions happen in the thylakoid membrane while the Calvin cycle"
    assert [a.seconds for a in joined.anchors] == [float(s) for s in range(12)]


def test_join_aligns_words_heard_differently_at_the_edges():
    # The first part heard half a word at its end, the second half a word at its start.
    first = _timed("plants store starch in their roo", 0)
    second = _timed("ots store starch in their roots and leaves", 1)

    joined = join_transcripts([first, second])

    assert joined.text == "plants store starch in their roots and leaves"


def test_join_ignores_case_and_punctuation_at_the_seam():
    first = Extracted(text="Water splits. Oxygen escapes", anchors=(Anchor(0, seconds=0.0),))
    second = Extracted(text="oxygen escapes, and carbon enters.", anchors=(Anchor(0, seconds=10.0),))

    joined = join_transcripts([first, second])

    assert joined.text == "Water splits. Oxygen escapes, and carbon enters."
    # The resumed phrase keeps the second part's anchor, at the join.
    assert joined.anchors == (Anchor(0, seconds=0.0), Anchor(21, seconds=10.0))


def test_join_without_common_words_keeps_both_texts_whole():
    first = Extracted(text="One two three.", anchors=(Anchor(0, seconds=0.0),))
    second = Extracted(text="Four five six.", anchors=(Anchor(0, seconds=9.0),))

    joined = join_transcripts([first, second])

    assert joined.text == "One two three. Four five six."
    assert joined.anchors == (Anchor(0, seconds=0.0), Anchor(15, seconds=9.0))


def test_join_skips_silent_parts():
    parts = [Extracted(text=""), _timed("alpha beta gamma", 0), Extracted(text="  ")]
    parts.append(_timed("beta gamma delta", 1))
    assert join_transcripts(parts).text == "alpha beta gamma delta"
