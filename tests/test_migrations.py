"""`flask db upgrade` on an empty database gives exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mylivelinks.extensions import db
from mylivelinks.models import Base


def test_migrated_schema_equals_the_models(app):
    # The session fixture built this database from an empty schema with the migrations.
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
