"""`manage.py process PATH_OR_URL`: one source through the whole pipeline.

With no broker configured it runs on the embedded default: SQLite, an
in-memory broker and a worker inside this command, offline providers. With a
broker configured it enqueues to the real workers and follows the progress.

A file is judged the way the API judges an upload (api.uploads: size, then
the bytes), before anything is created; the source is created through
pipeline.lifecycle.source_create, like every other source. The note is
written to a new file named after the source (`out/lecture.md`, then
`out/lecture-2.md`, ...), its generated pictures to the `images/` folder
beside it.
"""

import codecs
import contextlib
import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from urllib.parse import unquote

import filetype
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, SystemCheckError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.text import slugify
from rest_framework.exceptions import APIException
from tqdm import tqdm

from api import uploads
from api.serializers import CREATE_SERIALIZERS
from notes.apps import write_secret_key
from notes.models import Note, Source, Visual
from pipeline import lifecycle, liveness, steps

CLI_USERNAME = "studynaut-cli"
Kind = Source.Kind
# What the command takes, by file name; the bytes must then agree (api.uploads).
SUFFIX_KINDS = {
    ".txt": Kind.TEXT,
    ".md": Kind.TEXT,
    ".markdown": Kind.TEXT,
    ".rst": Kind.TEXT,
    ".pdf": Kind.PDF,
    ".vtt": Kind.CAPTIONS,
    ".srt": Kind.CAPTIONS,
    ".mp3": Kind.AUDIO,
    ".m4a": Kind.AUDIO,
    ".wav": Kind.AUDIO,
    ".ogg": Kind.AUDIO,
    ".flac": Kind.AUDIO,
    ".webm": Kind.AUDIO,
    ".mp4": Kind.AUDIO,
}
KIND_NAMES = {Kind.TEXT: "text", Kind.PDF: "PDF", Kind.CAPTIONS: "captions", Kind.AUDIO: "audio"}
FINAL = (Source.Status.COMPLETED, Source.Status.COMPLETED_WITH_ERRORS, Source.Status.FAILED)
DEFAULT_OUT_DIR = Path("out")
IMAGES_DIR_NAME = "images"
# The pictures export_markdown writes: only these are ever removed.
GENERATED_IMAGE_NAME_RE = re.compile(r"visual-[0-9a-f]{12}\.svg")
MAX_SLUG_CHARS = 80
# Characters no text file holds: the C0 controls but tab, newlines and form
# feed, and DEL.
BINARY_CHARS_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
# A text of MAX_TEXT_CHARS characters has at most 4 bytes a character (UTF-8,
# or UTF-16 with surrogates), plus a byte-order mark.
TEXT_BYTES_PER_CHAR = 4


def supported_types() -> str:
    by_kind: dict[str, list[str]] = {}
    for suffix, kind in SUFFIX_KINDS.items():
        by_kind.setdefault(kind, []).append(suffix)
    listed = "; ".join(f"{KIND_NAMES[kind]} ({', '.join(suffixes)})" for kind, suffixes in by_kind.items())
    return f"{listed}; or a YouTube URL or video id"


@dataclass
class SourceInput:
    """What the command line asks for, checked: the arguments of
    lifecycle.source_create (but the owner) and what to name the note after."""

    kind: str
    fields: dict = field(default_factory=dict)
    name: str = ""


class Command(BaseCommand):
    help = (
        "Run the whole pipeline for one source (a file, a YouTube URL or id), show its progress "
        f"and write the note as Markdown. Supported: {supported_types()}."
    )
    # Run in handle(), once the embedded database and its key exist: on a
    # first run the key warning would only say what migrate is about to do.
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", metavar="PATH_OR_URL")
        parser.add_argument(
            "--kind", choices=[kind.value for kind in Kind], help="default: guessed from the name"
        )
        parser.add_argument("--title", default="")
        parser.add_argument(
            "--out",
            help="the note's file, or a folder (ending in /) for a file named after the source; "
            "an existing note is never overwritten (-2, -3 are added). Default: out/",
        )
        parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the pipeline")

    def handle(self, *args, **options) -> None:
        with contextlib.ExitStack() as files:
            request = self._read_input(options["source"], options["kind"], options["title"], files)
            if settings.EMBEDDED:
                self._check_embedded_can_run(request.kind)
            with self._quiet_logs(options["verbosity"]):
                if settings.EMBEDDED:
                    self._prepare_database()
                self._run_system_checks()
                worker = self._start_embedded_worker() if settings.EMBEDDED else None
                try:
                    source = self._create_source(request)
                    self.stdout.write(f"Source #{source.pk} ({source.kind}) created.")
                    files.close()
                    if worker is None:
                        self._warn_without_workers()
                    source = self._follow(source, timeout=options["timeout"])
                finally:
                    if worker is not None:
                        worker.stop(in_sighandler=False)
        self._report(source, request, options["out"])

    # --- input --------------------------------------------------------------

    def _read_input(
        self, value: str, kind: str | None, title: str, files: contextlib.ExitStack
    ) -> SourceInput:
        """The source asked for, checked as the API checks it; nothing is
        created yet. An uploaded file stays open (in ``files``) until the
        source holds it, so what was checked is what is stored."""
        path = Path(value)
        if path.is_dir():
            raise CommandError(f"{value} is a folder; give one file.")
        kind = kind or self._guess_kind(value)
        if kind == Kind.YOUTUBE:
            data = self._validated(kind, {"kind": kind, "url": value, "title": title})
            return SourceInput(kind, data, name=title)
        if not path.is_file():
            raise CommandError(f"No such file: {value}")
        name = title or path.stem
        if kind == Kind.TEXT:
            text = self._read_text(path)
            return SourceInput(
                kind, self._validated(kind, {"kind": kind, "text": text, "title": title}), name
            )
        handle = files.enter_context(path.open("rb"))
        upload = File(handle, name=path.name)
        data = self._validated(kind, {"kind": kind, "file": upload, "title": title})
        try:
            uploads.check_upload(kind=kind, upload=upload)
        except APIException as exc:  # 413, 415: the same words as the API's
            raise CommandError(f"{value}: {exc.detail}") from None
        data["upload"] = data.pop("file")
        data["original_filename"] = uploads.display_filename(path.name)
        return SourceInput(kind, data, name)

    def _guess_kind(self, value: str) -> str:
        looks_like_video = re.match(r"^https?://", value) or re.fullmatch(r"[A-Za-z0-9_-]{11}", value)
        if looks_like_video and not Path(value).exists():
            return Kind.YOUTUBE
        suffix = Path(value).suffix.lower()
        if suffix not in SUFFIX_KINDS:
            what = f"{suffix} files are" if suffix else "files without an extension are"
            raise CommandError(
                f"Cannot process {value}: {what} not supported. Supported: {supported_types()}. "
                "If the file is one of these under another name, pass --kind."
            )
        return SUFFIX_KINDS[suffix]

    def _read_text(self, path: Path) -> str:
        """The file as text, or a refusal: a Word document or a picture given
        as TEXT would otherwise become a note of bytes."""
        limit = settings.MAX_TEXT_CHARS
        size = path.stat().st_size
        if size > limit * TEXT_BYTES_PER_CHAR + 4:
            raise CommandError(
                f"{path} has {size:,} bytes: more text than the limit of {limit:,} characters "
                "(MAX_TEXT_CHARS)."
            )
        raw = path.read_bytes()
        known = filetype.guess(raw[: uploads.SNIFF_BYTES])
        text = None if known else decode_text_file(raw)
        if text is None:
            what = f"a {known.extension} file ({known.mime})" if known else "binary data"
            raise CommandError(
                f"{path} is not a text file: its bytes are {what}. A TEXT source is plain text "
                f"(such as .txt or .md); supported: {supported_types()}. "
                "Save a document as PDF or plain text first."
            )
        if not text.strip():
            raise CommandError(f"{path} has no text.")
        return text

    def _validated(self, kind: str, data: dict) -> dict:
        """The API's own validation of a create request, with its messages."""
        serializer = CREATE_SERIALIZERS[kind](data=data)
        if not serializer.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(str(message) for message in messages)}"
                for field, messages in serializer.errors.items()
            )
            raise CommandError(problems)
        return dict(serializer.validated_data)

    def _check_embedded_can_run(self, kind: str) -> None:
        """What the worker inside this command cannot do, said before a
        source is created for nothing."""
        if kind == Kind.AUDIO:
            from pipeline.extractors.audio import NO_KEY, transcription_configured

            if not transcription_configured():
                raise CommandError(NO_KEY)

    def _create_source(self, request: SourceInput) -> Source:
        owner, _ = get_user_model().objects.get_or_create(username=CLI_USERNAME)
        return lifecycle.source_create(owner=owner, **request.fields)

    # --- the embedded run -------------------------------------------------------

    @contextlib.contextmanager
    def _quiet_logs(self, verbosity: int):
        """The progress and the outcome tell the story; log lines (the
        worker's, with their task ids) would only interleave with them, and
        repeat a failure the command reports itself. Shown with -v 2."""
        if verbosity >= 2:
            yield
            return
        logging.disable(logging.ERROR)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)

    def _prepare_database(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write("Preparing the local database...")
            call_command("migrate", interactive=False, verbosity=0)
        write_secret_key()  # done by migrate on a first run; again if the key file went

    def _run_system_checks(self) -> None:
        """Django's checks, as a command runs them; the warning that no key was
        kept yet is moot once this command has kept its own."""
        key_kept = (
            settings.SECRET_KEY_FILE.exists()
            and settings.SECRET_KEY_FILE.read_text().strip() == settings.SECRET_KEY
        )
        problems = [
            message
            for message in checks.run_checks()
            if not message.is_silenced() and not (key_kept and message.id == "studynaut.W001")
        ]
        if any(message.is_serious() for message in problems):
            raise SystemCheckError("\n".join(str(message) for message in problems))
        for message in problems:
            self.stderr.write(self.style.WARNING(str(message)))

    def _start_embedded_worker(self):
        """A worker inside this process, on the in-memory broker."""
        from studynaut.celery import app

        worker = app.WorkController(
            app=app,
            pool="threads",
            concurrency=4,
            queues=list(steps.queues()),
            loglevel="WARNING",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            hostname="embedded@studynaut",
        )
        threading.Thread(target=worker.start, daemon=True, name="embedded-worker").start()
        return worker

    def _warn_without_workers(self) -> None:
        try:
            answering = liveness.alive_count()
        except redis.RedisError:  # Redis itself: the pipeline's own errors will say more
            answering = 0
        if not answering:
            self.stderr.write(
                self.style.WARNING(
                    "No worker answers on the broker: the source waits until one starts "
                    "(celery -A studynaut worker -Q bookkeeping,ai,images)."
                )
            )

    # --- progress ---------------------------------------------------------------

    def _follow(self, source: Source, *, timeout: float) -> Source:
        deadline = time.monotonic() + timeout
        stages = [
            stage
            for step in steps.steps_for(source)
            for stage in steps.STAGE_ORDER
            if steps.owner_of(stage) is step
        ]
        shown = 0  # stages announced so far, in pipeline order
        bar = None
        while time.monotonic() < deadline:
            source.refresh_from_db()
            finished = source.processing_status in FINAL
            if finished and source.processing_status != Source.Status.FAILED:
                reached = len(stages)
            elif source.processing_stage in stages:
                reached = stages.index(source.processing_stage) + 1
            else:
                reached = shown
            # A fast stage may start and end between two looks: announce
            # every stage passed, in order, not just the ones seen.
            for stage in stages[shown:reached]:
                if bar is not None:
                    bar.close()
                    bar = None
                self.stdout.write(f"> {steps.STAGE_LABELS[stage]}")
            shown = max(shown, reached)
            if source.processing_stage == Source.Stage.GENERATING_VISUALS:
                visuals = Visual.objects.filter(source=source)
                total = visuals.count()
                done = visuals.filter(status__in=Visual.FINAL_STATUSES).count()
                if bar is None:
                    bar = tqdm(total=total, desc="  visuals", unit="img", file=self.stdout._out, leave=True)
                if done != bar.n:
                    bar.update(done - bar.n)
            if finished:
                break
            time.sleep(0.2)
        else:
            raise CommandError(f"Source #{source.pk} did not finish within {timeout:.0f} s.")
        if bar is not None:
            bar.update(bar.total - bar.n)
            bar.close()
        return source

    # --- output -----------------------------------------------------------------

    def _report(self, source: Source, request: SourceInput, out: str | None) -> None:
        if source.processing_status == Source.Status.FAILED:
            label = steps.STAGE_LABELS.get(source.processing_stage or "", "")
            where = f" while {label[0].lower()}{label[1:]}" if label else ""
            raise CommandError(f"Source #{source.pk} failed{where}: {source.error_message}")
        note = Note.objects.prefetch_related("quiz_questions", "flashcards").get(source=source)
        folder, stem, suffix = note_target(out, request.name or source.title or note.title)
        folder.mkdir(parents=True, exist_ok=True)
        markdown = export_markdown(note, images_dir=folder / IMAGES_DIR_NAME)
        path = claim_new_file(folder, stem, suffix)
        path.write_text(markdown, encoding="utf-8")
        remove_unused_images(folder)
        if source.processing_status == Source.Status.COMPLETED_WITH_ERRORS:
            self.stdout.write(self.style.WARNING(f"Completed with errors: {source.error_message}"))
        self.stdout.write(
            self.style.SUCCESS(
                f'Note #{note.pk} "{note.title}": {note.quiz_questions.count()} questions, '
                f"{note.flashcards.count()} flashcards, {source.visuals.count()} visuals."
            )
        )
        self.stdout.write(f"Written to {path}")


def decode_text_file(raw: bytes) -> str | None:
    """A file's bytes as text, or None when they are not text. The API never
    judges a text file (it takes text as a JSON string); the command decodes
    one as the captions extractor decodes a file (UTF-16 with a BOM, else
    UTF-8, else Latin-1). A binary file decodes as Latin-1 too, but it holds
    control characters that no text has."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            return None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    return None if BINARY_CHARS_RE.search(text) else text


def note_slug(name: str) -> str:
    """A file name for a note: ASCII where the name has it, else its own letters."""
    slug = slugify(name) or slugify(name, allow_unicode=True) or "note"
    return slug[:MAX_SLUG_CHARS].rstrip("-_") or "note"


def note_target(out: str | None, name: str) -> tuple[Path, str, str]:
    """Where the note goes: the folder, and the file's stem and suffix.
    ``--out`` is a file, or a folder (ending in a slash, or existing) in which
    the file is named after the source; default ``out/``."""
    if out is None or out.endswith(("/", "\\")) or Path(out).is_dir():
        return (Path(out) if out else DEFAULT_OUT_DIR), note_slug(name), ".md"
    return Path(out).parent, Path(out).stem, Path(out).suffix or ".md"


def claim_new_file(folder: Path, stem: str, suffix: str) -> Path:
    """A new, empty file: ``stem``, else ``stem-2``, ``stem-3``, ... Created
    exclusively, so an existing note is never overwritten and two runs at
    once never take the same name."""
    for number in count(1):
        path = folder / (f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}")
        try:
            path.open("x").close()
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def remove_unused_images(folder: Path) -> None:
    """Delete the generated pictures in ``folder/images`` that no note in
    ``folder`` shows (a note deleted, an earlier run's): only files named as
    export_markdown names them, never anything else in the folder."""
    images = folder / IMAGES_DIR_NAME
    if not images.is_dir():
        return
    used: set[str] = set()
    for note in folder.glob("*.md"):
        used.update(GENERATED_IMAGE_NAME_RE.findall(note.read_text(encoding="utf-8", errors="replace")))
    for image in images.iterdir():
        if GENERATED_IMAGE_NAME_RE.fullmatch(image.name) and image.name not in used:
            image.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: a picture is in use, or a file of the user's
        images.rmdir()


GENERATED_IMAGE_RE = re.compile(r"\((https?://[^)\s]+/images/generated/([^/)\s]+)\.svg)\)")


def export_markdown(note: Note, *, images_dir: Path) -> str:
    """The note as one Markdown file: the note, then its quiz and flashcards.

    Generated (offline) images are written beside the file, so the note
    shows its pictures without a server.
    """
    from pipeline.providers.offline_images import render_svg, token_description

    def save_image(match: re.Match) -> str:
        token = unquote(match.group(2))
        description = token_description(token)
        if description is None:
            return match.group(0)
        images_dir.mkdir(parents=True, exist_ok=True)
        name = f"visual-{hashlib.sha256(token.encode()).hexdigest()[:12]}.svg"
        (images_dir / name).write_text(render_svg(description))
        return f"({images_dir.name}/{name})"

    parts = [GENERATED_IMAGE_RE.sub(save_image, note.markdown_content).rstrip(), "", "## Quiz", ""]
    letters = "ABCDEFGH"
    for number, question in enumerate(note.quiz_questions.all(), start=1):
        parts.append(f"{number}. {question.question}")
        parts.extend(f"   - {letters[i]}) {option}" for i, option in enumerate(question.options))
        answer = f"{letters[question.answer_index]}) {question.options[question.answer_index]}"
        parts.append(f"   - *Answer: {answer}.* {question.explanation}".rstrip())
        parts.append("")
    parts += ["## Flashcards", "", "| Front | Back |", "| --- | --- |"]
    for card in note.flashcards.all():
        front, back = (value.replace("|", "\\|").replace("\n", " ") for value in (card.front, card.back))
        parts.append(f"| {front} | {back} |")
    return "\n".join(parts) + "\n"
