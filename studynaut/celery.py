import os

from celery import Celery, signals

from studynaut import broker_fixes

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studynaut.settings")
broker_fixes.apply()

app = Celery("studynaut")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
@signals.beat_init.connect
def _refuse_the_in_memory_broker(sender=None, **kwargs) -> None:
    """A worker or beat on the in-memory broker would wait forever for work
    nobody can send it (studynaut/embedded.py). SystemExit, because Celery
    logs and swallows an exception raised by a signal handler."""
    from studynaut.embedded import missing_broker_message

    component = "celery beat" if kwargs.get("signal") is signals.beat_init else "The Celery worker"
    if message := missing_broker_message(component):
        raise SystemExit(message)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_worker_logs(logger=None, **kwargs) -> None:
    """Celery's worker and beat print through handlers of their own (on the
    root logger, the task logger and the multiprocessing logger), not the
    ones of settings.LOGGING: keys are redacted there too."""
    from celery.utils.log import get_multiprocessing_logger

    from pipeline.logging import redact_handlers

    redact_handlers(logger)
    redact_handlers(get_multiprocessing_logger())
