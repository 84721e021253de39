"""Shapes of the API's input and output (SPEC section 5).

Input serializers validate only; writes happen in the views' service
functions. Output serializers read the annotated querysets of
notes.selectors (progress, note id), so they run no query per row.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notes.models import Flashcard, Note, QuizQuestion, Source, Visual
from pipeline.providers.offline_images import localize_generated_links

Kind = Source.Kind


def kind_field(*kinds: str) -> serializers.ChoiceField:
    """`kind` restricted to some kinds. Documented with a pattern rather than
    an enum: drf-spectacular names every enum of a field name alike, and
    several choice sets named `kind` would collide in the schema."""

    @extend_schema_field(
        {
            "type": "string",
            "pattern": f"^({'|'.join(kinds)})$",
            "description": " or ".join(kinds),
            "example": kinds[0],
        }
    )
    class KindField(serializers.ChoiceField):
        pass

    return KindField(choices=list(kinds))


# --- Auth ---------------------------------------------------------------------


class RegisterSerializer(serializers.ModelSerializer):
    """A new account. The username follows the user model's own rules
    (validators, uniqueness); the password Django's password validators."""

    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})

    class Meta:
        model = get_user_model()
        fields = ["username", "password"]

    def validate(self, attrs: dict) -> dict:
        candidate = get_user_model()(username=attrs.get("username", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


# For the schema only: the token endpoint validates with DRF's
# AuthTokenSerializer, which has these fields.
class CredentialsSerializer(serializers.Serializer):
    """A username and its password."""

    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


# --- Creating sources ---------------------------------------------------------


class SourceKindSerializer(serializers.Serializer):
    """Picks the serializer of the rest of the input."""

    kind = serializers.ChoiceField(choices=Kind.choices)


class TextSourceCreateSerializer(serializers.Serializer):
    kind = kind_field(Kind.TEXT)
    text = serializers.CharField(help_text="The study text; at most MAX_TEXT_CHARS characters.")
    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_text(self, value: str) -> str:
        # Read at call time: the limit is a setting, not a constant.
        limit = settings.MAX_TEXT_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"The text has {len(value):,} characters, above the limit of {limit:,}."
            )
        return value


class YouTubeSourceCreateSerializer(serializers.Serializer):
    kind = kind_field(Kind.YOUTUBE)
    url = serializers.CharField(
        max_length=500,
        help_text="A YouTube video URL (youtube.com/watch, youtu.be, shorts, embed) "
        "or a bare 11-character video id.",
    )
    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_url(self, value: str) -> str:
        """Only real YouTube videos are accepted; the stored URL is the
        canonical one built from the id, never the client's string."""
        from pipeline.extractors.youtube import canonical_url, parse_video_id

        try:
            video_id = parse_video_id(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return canonical_url(video_id)


# The file's size and type are checked after this serializer (in
# api.uploads), because they answer 413 and 415, not 400.
class UploadSourceCreateSerializer(serializers.Serializer):
    """A PDF, audio or caption file, sent as multipart/form-data."""

    kind = kind_field(Kind.PDF, Kind.AUDIO, Kind.CAPTIONS)
    file = serializers.FileField(
        use_url=False,
        help_text="PDF document, audio recording (mp3, m4a, wav, ogg, flac, webm, mp4) "
        "or WebVTT/SRT captions. The type is judged from the content.",
    )
    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


CREATE_SERIALIZERS = {
    Kind.TEXT: TextSourceCreateSerializer,
    Kind.YOUTUBE: YouTubeSourceCreateSerializer,
    Kind.PDF: UploadSourceCreateSerializer,
    Kind.AUDIO: UploadSourceCreateSerializer,
    Kind.CAPTIONS: UploadSourceCreateSerializer,
}


class SourceFilterSerializer(serializers.Serializer):
    # Blank (`?processing_status=`) means no filter, as an empty form field would.
    processing_status = serializers.ChoiceField(
        choices=Source.Status.choices, required=False, allow_blank=True
    )


# --- Reading sources ----------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    visuals_total = serializers.IntegerField(read_only=True)
    visuals_done = serializers.IntegerField(
        read_only=True, help_text="Visuals in a final state (COMPLETED or FAILED)."
    )
    chunks_total = serializers.IntegerField(
        read_only=True,
        help_text="Parts of a long text or recording worked on one task each (0 for a short text).",
    )
    chunks_done = serializers.IntegerField(read_only=True, help_text="Parts in a final state.")


class WaitingSerializer(serializers.Serializer):
    until = serializers.DateTimeField(source="waiting_until", read_only=True)
    reason = serializers.CharField(source="waiting_reason", read_only=True)


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField(read_only=True)
    completion_tokens = serializers.IntegerField(read_only=True)


class GeneratedImageLinksMixin:
    """Links to generated (offline) images point at the server the client
    talks to, whatever PUBLIC_BASE_URL the worker that made them had."""

    localized_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None:
            base = request.build_absolute_uri("/").rstrip("/")
            for field in self.localized_fields:
                if data.get(field):
                    data[field] = localize_generated_links(data[field], base_url=base)
        return data


class VisualSerializer(GeneratedImageLinksMixin, serializers.ModelSerializer):
    localized_fields = ("image_url",)
    # A plain string: empty until the visual has an image (never a broken URI).
    image_url = serializers.CharField(read_only=True, help_text="http(s) URL of the image; empty if none.")

    class Meta:
        model = Visual
        fields = [
            "id",
            "placeholder_id",
            "description",
            "search_query",
            "status",
            "image_url",
            "error_message",
        ]
        read_only_fields = fields


# Reads the annotations of notes.selectors.source_list (progress, note id).
class SourceSerializer(serializers.ModelSerializer):
    """A source with its progress (without its visuals)."""

    progress = ProgressSerializer(source="*", read_only=True)
    note = serializers.IntegerField(
        source="note_pk", read_only=True, allow_null=True, help_text="The note's id."
    )
    usage = UsageSerializer(source="*", read_only=True)
    url = serializers.CharField(read_only=True, help_text="The video's URL (YOUTUBE); empty for other kinds.")
    waiting = serializers.SerializerMethodField(
        help_text="While the source waits for room under a provider's shared rate limit: until when and why."
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "kind",
            "title",
            "url",
            "original_filename",
            "processing_status",
            "processing_stage",
            "progress",
            "waiting",
            "error_message",
            "note",
            "usage",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(WaitingSerializer(allow_null=True))
    def get_waiting(self, source: Source) -> dict | None:
        if source.waiting_until is None or source.waiting_until <= timezone.now():
            return None
        if source.processing_status not in Source.ACTIVE_STATUSES:
            return None
        return WaitingSerializer(source).data


class SourceDetailSerializer(SourceSerializer):
    """A source with its progress and its visuals."""

    visuals = VisualSerializer(many=True, read_only=True)

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "visuals"]
        read_only_fields = fields


# --- Notes --------------------------------------------------------------------


class QuizQuestionSerializer(serializers.ModelSerializer):
    options = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = QuizQuestion
        fields = ["question", "options", "answer_index", "explanation"]
        read_only_fields = fields


class FlashcardSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flashcard
        fields = ["front", "back"]
        read_only_fields = fields


class NoteSerializer(GeneratedImageLinksMixin, serializers.ModelSerializer):
    localized_fields = ("markdown_content", "html_content")
    source = serializers.IntegerField(source="source_id", read_only=True, help_text="The source's id.")
    quiz = QuizQuestionSerializer(source="quiz_questions", many=True, read_only=True)
    flashcards = FlashcardSerializer(many=True, read_only=True)

    class Meta:
        model = Note
        fields = [
            "id",
            "source",
            "title",
            "markdown_content",
            "html_content",
            "quiz",
            "flashcards",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- Errors (for the schema) --------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
