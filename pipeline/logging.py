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

    for name in SECRET_SETTINGS:
        secret = getattr(settings, name)
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, "[redacted]")
    return SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Keys never reach a log line, even from a library logging a URL that
    carries one (urllib3 at DEBUG logs SerpAPI's query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # broad-except-ok: a malformed record is the logging system's business
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
