"""One error format for the whole API.

DRF's own shapes are kept, so clients see exactly what DRF documents:
- invalid input: 400 with `{field: [messages]}` (`non_field_errors` for the
  object as a whole);
- everything else: `{"detail": "..."}` with the status code that says what
  happened (401, 404, 409, 413, 415, 429, 500).

An unexpected exception becomes a 500 with a fixed message: the traceback goes
to the log, never into the response.
"""

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger("api")

INTERNAL_ERROR_MESSAGE = "Internal server error."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class UnsupportedFileType(exceptions.APIException):
    """The uploaded file's content is not of the kind it claims to be."""

    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "The uploaded file is not of a supported type."
    default_code = "unsupported_file_type"


def _translate_django_errors(exc: Exception) -> Exception:
    """Django's own request-size guards, raised while the body is parsed."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return exceptions.ValidationError({"non_field_errors": ["The request has too many fields or files."]})
    return exc


def exception_handler(exc: Exception, context: dict) -> Response:
    exc = _translate_django_errors(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception(
            "unhandled error in %s",
            type(view).__name__ if view is not None else "an API view",
            exc_info=exc,
        )
        set_rollback()
        return Response({"detail": INTERNAL_ERROR_MESSAGE}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.Throttled) and "Retry-After" not in response:
        # DRF leaves the header out when the wait rounds to zero; a client
        # still needs to be told when to come back.
        response["Retry-After"] = "1"
    return response


def not_found_view(request, exception=None) -> JsonResponse:
    """Django's 404 for URLs no view matches: JSON like the API's own."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error_view(request) -> JsonResponse:
    """Django's 500: no stack trace, no settings, just the fact."""
    return JsonResponse({"detail": "Internal server error."}, status=500)
