"""The ASGI entry point (gunicorn with uvicorn workers, or any ASGI server)."""

import os

from django.core.asgi import get_asgi_application

from studynaut.embedded import require_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studynaut.settings")

django_application = get_asgi_application()
# Not on the in-memory broker: its work would never run (studynaut/embedded.py).
require_broker("The web server")

from api.body_limits import limit_asgi_body  # noqa: E402  (needs the apps loaded)

# Django's ASGI handler reads the whole body before any middleware runs: the
# body limits are applied while it arrives.
application = limit_asgi_body(django_application)
