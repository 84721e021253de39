"""The Studynaut Celery app with one test-only task whose errors carry the
configured OpenAI key, for tests/test_log_redaction.py: a worker started with
``celery -A tests.leaky_worker_app worker`` has the product's settings and
logging, and this task makes it print a key every way a worker prints."""

import logging

from django.conf import settings

from studynaut.celery import app

__all__ = ["app"]

logger = logging.getLogger("pipeline.leak_test")


@app.task(name="tests.leak_the_key")
def leak_the_key() -> None:
    key = settings.OPENAI_API_KEY
    try:
        raise RuntimeError(f"Incorrect API key provided: {key}")
    except RuntimeError:
        # A pipeline logger: the handlers of settings.LOGGING.
        logger.exception("provider call failed")
    # Celery's own loggers: the worker's handlers on the root logger.
    logging.getLogger("celery.leak_test").error("retrying with %s", key, exc_info=False)
    # A print in a task: Celery redirects it to a logger.
    print(f"debug print of {key}")
    # Unhandled: Celery logs the failure with its traceback.
    raise ValueError(f"upstream said: bad key {key}")
