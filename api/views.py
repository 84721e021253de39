"""The HTTP API (SPEC section 5). Views parse and answer; reads go through
notes.selectors (scoped to the user: another user's row is a 404), writes
through notes.services."""

import logging
from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notes import selectors
from notes.exports import flashcards_apkg, flashcards_csv
from notes.models import Note, Source
from pipeline.lifecycle import source_create, source_delete, source_retry

from . import uploads
from .body_limits import source_create_body_bytes
from .errors import Conflict
from .parsers import DepthLimitedJSONParser
from .serializers import (
    CREATE_SERIALIZERS,
    CredentialsSerializer,
    ErrorDetailSerializer,
    NoteSerializer,
    RegisterSerializer,
    SourceDetailSerializer,
    SourceFilterSerializer,
    SourceKindSerializer,
    SourceSerializer,
    TextSourceCreateSerializer,
    TokenSerializer,
    UploadSourceCreateSerializer,
    YouTubeSourceCreateSerializer,
)
from .throttles import DEFAULT_THROTTLES, ScopedThrottle, ScopedWriteThrottle

logger = logging.getLogger("api")

ERROR = ErrorDetailSerializer
NOT_FOUND = OpenApiResponse(ERROR, description="Not found, or not yours.")
UNAUTHENTICATED = OpenApiResponse(ERROR, description="Missing or invalid credentials.")
FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT, description='Invalid input: `{"field": ["message", ...]}`.'
)


# --- Auth -----------------------------------------------------------------------


class _AuthView(APIView):
    # No authentication: a stale token in the client must not block a login.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "auth"


class RegisterView(_AuthView):
    @extend_schema(
        operation_id="auth_register",
        summary="Create an account and get its API token",
        request=RegisterSerializer,
        responses={201: TokenSerializer, 400: FIELD_ERRORS, 429: ERROR},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(**serializer.validated_data)
                token = Token.objects.create(user=user)
        except IntegrityError as exc:
            # Two registrations of one name at once: the second loses here.
            raise ValidationError({"username": ["A user with that username already exists."]}) from exc
        return Response({"token": token.key}, status=status.HTTP_201_CREATED)


class TokenView(_AuthView):
    @extend_schema(
        operation_id="auth_token",
        summary="Exchange a username and password for the API token",
        request=CredentialsSerializer,
        responses={200: TokenSerializer, 400: FIELD_ERRORS, 429: ERROR},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


# --- Sources --------------------------------------------------------------------

SOURCE_CREATE_JSON = PolymorphicProxySerializer(
    component_name="SourceCreateJSON",
    serializers={"TEXT": TextSourceCreateSerializer, "YOUTUBE": YouTubeSourceCreateSerializer},
    resource_type_field_name="kind",
)


class SourceListCreateView(generics.ListCreateAPIView):
    throttle_classes = [*DEFAULT_THROTTLES, ScopedWriteThrottle]
    throttle_scope = "sources_create"
    # The only endpoint that takes forms and files; the others take JSON only
    # (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).
    parser_classes = [DepthLimitedJSONParser, MultiPartParser, FormParser]
    # Read by api.body_limits before the body is: an upload, or a text.
    max_body_bytes = staticmethod(source_create_body_bytes)
    serializer_class = SourceSerializer

    def get_queryset(self):
        filters = SourceFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.source_list(user=self.request.user, **filters.validated_data)

    @extend_schema(
        operation_id="sources_list",
        summary="Your sources, newest first",
        parameters=[
            OpenApiParameter(
                "processing_status",
                str,
                enum=Source.Status.values,
                description="Only sources in this status.",
            )
        ],
        responses={200: SourceSerializer(many=True), 400: FIELD_ERRORS, 401: UNAUTHENTICATED},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="sources_create",
        summary="Add a source; its pipeline starts in the background",
        description=(
            "JSON for `TEXT` (`text`, optional `title`) and `YOUTUBE` (`url`: a YouTube video URL or id). "
            "multipart/form-data for `PDF`, `AUDIO` and `CAPTIONS` (`kind`, `file`, optional `title`). "
            "Files are judged by their content: a file that is not of its kind answers 415, one over the "
            "size limit 413 (PDF and AUDIO: MAX_UPLOAD_BYTES; CAPTIONS: 5 MB at most)."
        ),
        request={
            "application/json": SOURCE_CREATE_JSON,
            "multipart/form-data": UploadSourceCreateSerializer,
        },
        responses={
            202: OpenApiResponse(SourceDetailSerializer, description="Accepted; the pipeline is enqueued."),
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            413: OpenApiResponse(ERROR, description="The upload (or the request body) is over the limit."),
            415: OpenApiResponse(ERROR, description="The file's content is not of the given kind."),
            429: OpenApiResponse(ERROR, description="Too many sources created; see Retry-After."),
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        data = request.data
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Expected an object."]})
        kind_serializer = SourceKindSerializer(data=data)
        kind_serializer.is_valid(raise_exception=True)
        kind = kind_serializer.validated_data["kind"]
        serializer = CREATE_SERIALIZERS[kind](data=data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if kind in uploads.UPLOAD_KINDS:
            fields["upload"] = fields.pop("file")
            uploads.check_upload(kind=kind, upload=fields["upload"])
            fields["original_filename"] = uploads.display_filename(fields["upload"].name)
        source = source_create(owner=request.user, **fields)
        source = selectors.source_get(user=request.user, source_id=source.pk)
        return Response(SourceDetailSerializer(source).data, status=status.HTTP_202_ACCEPTED)


class SourceDetailView(generics.RetrieveDestroyAPIView):
    throttle_classes = DEFAULT_THROTTLES
    serializer_class = SourceDetailSerializer

    def get_queryset(self):
        if self.request.method == "DELETE":
            return selectors.source_list(user=self.request.user)
        return selectors.source_detail_list(user=self.request.user)

    @extend_schema(
        operation_id="sources_retrieve",
        summary="A source with its progress and visuals",
        responses={200: SourceDetailSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="sources_destroy",
        summary="Delete a source with its visuals, note, quiz and flashcards",
        responses={204: None, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def delete(self, request: Request, *args, **kwargs) -> Response:
        return super().delete(request, *args, **kwargs)

    def perform_destroy(self, instance: Source) -> None:
        source_delete(source=instance)


class SourceRetryView(generics.GenericAPIView):
    throttle_classes = DEFAULT_THROTTLES
    serializer_class = SourceDetailSerializer

    def get_queryset(self):
        return selectors.source_list(user=self.request.user)

    @extend_schema(
        operation_id="sources_retry",
        summary="Rerun a FAILED or COMPLETED_WITH_ERRORS source from where it stopped",
        request=None,
        responses={
            202: OpenApiResponse(SourceDetailSerializer, description="Accepted; the pipeline is enqueued."),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(ERROR, description="The source is running or finished without errors."),
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        source = self.get_object()
        try:
            retried = source_retry(source_id=source.pk)
        except Source.DoesNotExist as exc:  # deleted meanwhile
            raise NotFound() from exc
        if retried is None:
            raise Conflict(
                "Only a FAILED or COMPLETED_WITH_ERRORS source can be retried; "
                f"this one is {self._current_status(source)}."
            )
        source = selectors.source_get(user=request.user, source_id=source.pk)
        return Response(SourceDetailSerializer(source).data, status=status.HTTP_202_ACCEPTED)

    @staticmethod
    def _current_status(source: Source) -> str:
        # The status may have changed since it was read: say what it is now.
        return Source.objects.filter(pk=source.pk).values_list("processing_status", flat=True).first() or (
            source.processing_status
        )


# --- Notes ----------------------------------------------------------------------


class NoteListView(generics.ListAPIView):
    throttle_classes = DEFAULT_THROTTLES
    serializer_class = NoteSerializer

    def get_queryset(self):
        return selectors.note_list(user=self.request.user)

    @extend_schema(
        operation_id="notes_list",
        summary="Your notes, newest first, with quiz and flashcards",
        responses={200: NoteSerializer(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class NoteDetailView(generics.RetrieveAPIView):
    throttle_classes = DEFAULT_THROTTLES
    serializer_class = NoteSerializer

    def get_queryset(self):
        return selectors.note_list(user=self.request.user)

    @extend_schema(
        operation_id="notes_retrieve",
        summary="A note with its quiz and flashcards",
        responses={200: NoteSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class FirstRendererNegotiation(BaseContentNegotiation):
    """Downloads answer in their own format whatever the Accept header says;
    errors (401, 404) in JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _NoteExportView(generics.GenericAPIView):
    throttle_classes = DEFAULT_THROTTLES
    content_negotiation_class = FirstRendererNegotiation
    serializer_class = serializers.Serializer  # no body: only for the schema

    def get_queryset(self):
        return selectors.note_list(user=self.request.user)


class NoteFlashcardsCSVView(_NoteExportView):
    @extend_schema(
        operation_id="notes_flashcards_csv",
        summary="The note's flashcards as CSV (front,back)",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="CSV with a `front,back` header."
            ),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, *args, **kwargs) -> HttpResponse:
        note: Note = self.get_object()
        response = HttpResponse(
            flashcards_csv(list(note.flashcards.all())), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="note-{note.pk}-flashcards.csv"'
        return response


class NoteFlashcardsAnkiView(_NoteExportView):
    @extend_schema(
        operation_id="notes_flashcards_apkg",
        summary="The note's flashcards as an Anki package (.apkg)",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="An Anki deck package."
            ),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, *args, **kwargs) -> FileResponse:
        note: Note = self.get_object()
        package = flashcards_apkg(note, list(note.flashcards.all()))
        return FileResponse(
            package,
            as_attachment=True,
            filename=f"note-{note.pk}-flashcards.apkg",
            content_type="application/octet-stream",
        )
