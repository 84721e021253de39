import os

from django.core.wsgi import get_wsgi_application

from studynaut.embedded import require_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studynaut.settings")

application = get_wsgi_application()
# Not on the in-memory broker: its work would never run (studynaut/embedded.py).
require_broker("The web server")
