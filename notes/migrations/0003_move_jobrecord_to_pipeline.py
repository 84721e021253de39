# JobRecord moved to the pipeline app (its job types come from the pipeline's
# step table). Only Django's model state changes here; the table is renamed by
# pipeline.0001.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("notes", "0002_source_language_text_map_visual_context"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="JobRecord")],
            database_operations=[],
        ),
    ]
