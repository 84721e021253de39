"""`manage.py process PATH_OR_URL`: one source through the whole pipeline.

With no broker configured it runs on the embedded default: SQLite, an
in-memory broker and a worker inside this command, offline providers. With a
broker configured it enqueues to the real workers and follows the progress.
"""

import hashlib
import logging
import re
import threading
import time
from pathlib import Path
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from tqdm import tqdm

from notes.models import Note, Source, Visual
from pipeline import lifecycle, steps

CLI_USERNAME = "studynaut-cli"
SUFFIX_KINDS = {
    ".pdf": Source.Kind.PDF,
    ".vtt": Source.Kind.CAPTIONS,
    ".srt": Source.Kind.CAPTIONS,
    ".txt": Source.Kind.TEXT,
    ".md": Source.Kind.TEXT,
    ".markdown": Source.Kind.TEXT,
    ".mp3": Source.Kind.AUDIO,
    ".m4a": Source.Kind.AUDIO,
    ".wav": Source.Kind.AUDIO,
    ".ogg": Source.Kind.AUDIO,
    ".flac": Source.Kind.AUDIO,
    ".webm": Source.Kind.AUDIO,
    ".mp4": Source.Kind.AUDIO,
}
FINAL = (Source.Status.COMPLETED, Source.Status.COMPLETED_WITH_ERRORS, Source.Status.FAILED)


class Command(BaseCommand):
    help = "Run the whole pipeline for one source (a file, a YouTube URL or id) and show its progress."

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", metavar="PATH_OR_URL")
        parser.add_argument("--kind", choices=[kind.value for kind in Source.Kind], help="default: guessed")
        parser.add_argument("--title", default="")
        parser.add_argument("--out", help="where to write the note as Markdown (default: data/notes/)")
        parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the pipeline")

    def handle(self, *args, **options) -> None:
        kind = options["kind"] or self._guess_kind(options["source"])
        if settings.EMBEDDED:
            self._migrate_if_needed()
        source = self._create_source(kind, options["source"], options["title"])
        self.stdout.write(f"Source #{source.pk} ({kind}) created.")
        worker = self._start_embedded_worker() if settings.EMBEDDED else None
        if worker is None:
            self._warn_without_workers()
        if worker is not None and options["verbosity"] < 2:
            # The progress bars tell the story; the worker's own log lines
            # would only interleave with them. (After the worker's start,
            # which sets up logging again.)
            for name in ("pipeline", "notes", "celery"):
                logging.getLogger(name).setLevel(logging.WARNING)
        try:
            source = self._follow(source, timeout=options["timeout"])
        finally:
            if worker is not None:
                worker.stop(in_sighandler=False)
        self._report(source, options["out"])

    # --- input --------------------------------------------------------------

    def _guess_kind(self, value: str) -> str:
        looks_like_video = re.match(r"^https?://", value) or re.fullmatch(r"[A-Za-z0-9_-]{11}", value)
        if looks_like_video and not Path(value).exists():
            return Source.Kind.YOUTUBE
        suffix = Path(value).suffix.lower()
        if suffix not in SUFFIX_KINDS:
            raise CommandError(f"Cannot tell the kind of {value!r}; pass --kind.")
        return SUFFIX_KINDS[suffix]

    def _create_source(self, kind: str, value: str, title: str) -> Source:
        owner, _ = get_user_model().objects.get_or_create(username=CLI_USERNAME)
        fields: dict = {"owner": owner, "kind": kind, "title": title}
        if kind == Source.Kind.YOUTUBE:
            from pipeline.extractors.youtube import canonical_url, parse_video_id

            try:
                fields["url"] = canonical_url(parse_video_id(value))
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        else:
            path = Path(value)
            if not path.is_file():
                raise CommandError(f"No such file: {value}")
            if kind == Source.Kind.TEXT:
                text = path.read_text(encoding="utf-8", errors="replace")
                if not text.strip():
                    raise CommandError("The file is empty.")
                if len(text) > settings.MAX_TEXT_CHARS:
                    raise CommandError(f"The text is longer than MAX_TEXT_CHARS ({settings.MAX_TEXT_CHARS}).")
                fields["text"] = text
            elif path.stat().st_size > settings.MAX_UPLOAD_BYTES:
                raise CommandError(f"The file is larger than MAX_UPLOAD_BYTES ({settings.MAX_UPLOAD_BYTES}).")
        if kind in (Source.Kind.TEXT, Source.Kind.YOUTUBE):
            return lifecycle.source_create(**fields)
        with open(value, "rb") as handle:
            return lifecycle.source_create(
                **fields, upload=File(handle, name=Path(value).name), original_filename=Path(value).name[:255]
            )

    # --- the embedded run -------------------------------------------------------

    def _migrate_if_needed(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write("Preparing the local database...")
            call_command("migrate", interactive=False, verbosity=0)

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
        from studynaut.celery import app

        try:
            answering = app.control.ping(timeout=1.0)
        except Exception:  # the broker itself: the pipeline's own errors will say more
            answering = []
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

    def _report(self, source: Source, out: str | None) -> None:
        if source.processing_status == Source.Status.FAILED:
            raise CommandError(
                f"Source #{source.pk} FAILED in {source.processing_stage}: {source.error_message}"
            )
        note = Note.objects.prefetch_related("quiz_questions", "flashcards").get(source=source)
        path = Path(out) if out else settings.DATA_DIR / "notes" / f"note-{note.pk}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(export_markdown(note, images_dir=path.with_name(path.stem + "_images")))
        if source.processing_status == Source.Status.COMPLETED_WITH_ERRORS:
            self.stdout.write(self.style.WARNING(f"Completed with errors: {source.error_message}"))
        self.stdout.write(
            self.style.SUCCESS(
                f'Note #{note.pk} "{note.title}": {note.quiz_questions.count()} questions, '
                f"{note.flashcards.count()} flashcards, {source.visuals.count()} visuals."
            )
        )
        self.stdout.write(f"Written to {path}")


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
