"""The embedded default: SQLite, an in-memory broker and a worker inside the
command (SPEC section 6).

Only the embedded commands, `manage.py process` and `manage.py serve`, run
on the in-memory broker. Any other web or worker process started without
CELERY_BROKER_URL would queue work into its own memory, where no worker
ever runs it, and answer 202 all the same: it refuses to start instead.
manage.py marks an embedded command before Django starts
(`mark_embedded_command`); the web entry points (studynaut.wsgi,
studynaut.asgi) and the Celery worker and beat (studynaut.celery) call
`require_broker`. Commands that need no broker (migrate, check,
createsuperuser, collectstatic, ...) are not affected.

No Django import at module level: manage.py imports this before settings.
"""

EMBEDDED_COMMANDS = frozenset({"process", "serve"})

_embedded_command: str | None = None


def mark_embedded_command(argv: list[str]) -> None:
    """Called by manage.py with its arguments: remember whether this process
    is one of the embedded commands."""
    global _embedded_command
    if len(argv) > 1 and argv[1] in EMBEDDED_COMMANDS:
        _embedded_command = argv[1]


def is_embedded_command() -> bool:
    return _embedded_command is not None


def missing_broker_message(component: str) -> str | None:
    """Why `component` cannot run in this process, or None when it can: a
    broker is configured, or this is an embedded command."""
    from django.conf import settings

    if not settings.EMBEDDED or is_embedded_command():
        return None
    return (
        f"{component} needs a broker: CELERY_BROKER_URL is not set (or names the in-memory broker), "
        "so work would be queued in this process's memory, where no worker ever runs it. "
        "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0). Only `manage.py process` and "
        "`manage.py serve` run on the embedded in-memory broker."
    )


def require_broker(component: str) -> None:
    """Refuse to start `component` without a broker (see the module)."""
    from django.core.exceptions import ImproperlyConfigured

    if message := missing_broker_message(component):
        raise ImproperlyConfigured(message)
