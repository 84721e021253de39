from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db.models.signals import post_migrate


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Study notes"

    def ready(self) -> None:
        if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
            # The embedded default keeps its SQLite file in DATA_DIR.
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        post_migrate.connect(write_secret_key, sender=self)
        checks.register(check_secret_key, checks.Tags.security)


def write_secret_key(**_) -> None:
    """Keep the key this process made up (SECRET_KEY unset, no key file yet)
    for the processes that come after it: `migrate` runs first in every
    deployment (the release step) and in the embedded commands."""
    if not settings.SECRET_KEY_EPHEMERAL or settings.SECRET_KEY_FILE.exists():
        return
    settings.SECRET_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    settings.SECRET_KEY_FILE.touch(mode=0o600, exist_ok=True)
    settings.SECRET_KEY_FILE.write_text(settings.SECRET_KEY)


def check_secret_key(app_configs=None, **_) -> list[checks.CheckMessage]:
    if settings.SECRET_KEY_EPHEMERAL:
        return [
            checks.Warning(
                "SECRET_KEY is not set and no key was generated yet: this process uses a key of its own, "
                "so sessions and signed links end with it.",
                hint="Set SECRET_KEY, or run `python manage.py migrate` once (it writes data/.secret_key).",
                id="studynaut.W001",
            )
        ]
    return []
