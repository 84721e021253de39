"""`manage.py health`: what GET /api/health/ reports, for operators."""

import json

from django.core.management.base import BaseCommand, CommandError

from api.health import health_report


class Command(BaseCommand):
    help = "Check the database, the broker and the workers; show queue lengths and recent failures."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options) -> None:
        report = health_report()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for key, value in report.items():
                self.stdout.write(f"{key:>20}: {json.dumps(value)}")
        if not report["healthy"]:
            raise CommandError("unhealthy: the database or the broker is unreachable")
