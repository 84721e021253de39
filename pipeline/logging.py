"""Every log line says which source, task and task id it is about."""

import logging

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
