"""Every log line says which source, task and task id it is about."""

import logging
import re

from celery import current_task


class TaskContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        request = getattr(task, "request", None) if task else None
        task_id = getattr(request, "id", None) if request else None
        kwargs = (getattr(request, "kwargs", None) or {}) if task_id else {}
        if not hasattr(record, "source_id"):
            record.source_id = kwargs.get("source_id", "-")
        record.task_name = task.name if task_id else "-"
        record.task_id = task_id or "-"
        return True


SECRET_SETTINGS = ("OPENAI_API_KEY", "SERPAPI_API_KEY", "SECRET_KEY", "YOUTUBE_PROXY_URL")
# Query-string keys, as the SerpAPI client sends them (and urllib3 logs them).
SECRET_PARAMS = re.compile(r"((?:api_key|apikey|key|token)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    from django.conf import settings

    if settings.configured:
        for name in SECRET_SETTINGS:
            secret = getattr(settings, name, "")
            if secret and len(secret) >= 8 and secret in text:
                text = text.replace(secret, "[redacted]")
    return SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Keys never reach a log line: not in the message (a library logging a
    URL that carries one: urllib3 at DEBUG logs SerpAPI's query string), not
    in the traceback (a provider's error that echoes the key it refused),
    not in the stack.

    On a handler it cleans what that handler writes; on a logger, what that
    logger's records carry to every handler. The traceback is formatted here
    and kept as the record's `exc_text`, which formatters print instead of
    formatting `exc_info` again (`exc_info` stays, for handlers that want
    the exception itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # broad-except-ok: a malformed record is the logging system's business
            message = None
        if message is not None:
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        traceback_text = record.exc_text or _formatted_exception(record)
        if traceback_text:
            cleaned = redact(traceback_text)
            if cleaned != traceback_text or record.exc_text:
                record.exc_text = cleaned
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _formatted_exception(record: logging.LogRecord) -> str:
    exc_info = record.exc_info
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        return logging.Formatter().formatException(exc_info)
    return ""


def redact_handlers(logger: logging.Logger | None) -> None:
    """Put the filter on every handler of `logger` (once). For handlers set
    up by others: Celery's worker and beat replace the root logger's
    handlers with their own (studynaut/celery.py calls this after)."""
    if logger is None:
        return
    for handler in logger.handlers:
        if not any(isinstance(existing, RedactSecretsFilter) for existing in handler.filters):
            handler.addFilter(RedactSecretsFilter())
