# JobRecord comes from the notes app: take over its table (state only), then
# give it the pipeline app's table name.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("notes", "0003_move_jobrecord_to_pipeline"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("task_id", models.CharField(db_index=True, max_length=64)),
                        ("job_type", models.CharField(max_length=32)),
                        ("visual_id", models.BigIntegerField(blank=True, null=True)),
                        ("state", models.CharField(default="STARTED", max_length=16)),
                        ("attempt", models.PositiveIntegerField(default=1)),
                        ("worker", models.CharField(blank=True, max_length=255)),
                        ("started_at", models.DateTimeField()),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("duration_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("error", models.TextField(blank=True)),
                        (
                            "source",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="jobs",
                                to="notes.source",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-started_at", "-id"],
                        "db_table": "notes_jobrecord",
                        "indexes": [
                            models.Index(fields=["source", "started_at"], name="job_source_started_idx"),
                            models.Index(fields=["job_type", "state"], name="job_type_state_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="jobrecord", table=None),
    ]
