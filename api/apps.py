from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The interfaces people and programs use: the HTTP API, the admin, the
    command line. Depends on pipeline and notes; nothing depends on it."""

    name = "api"
    verbose_name = "API"
