#!/usr/bin/env python
import os
import sys

from studynaut.embedded import mark_embedded_command


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studynaut.settings")
    # `process` and `serve` may run on the in-memory broker; nothing else
    # started without CELERY_BROKER_URL does (studynaut/embedded.py).
    mark_embedded_command(sys.argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
