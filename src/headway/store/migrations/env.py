"""Alembic environment: always runs on a connection handed over by headway.store.migrate."""

from alembic import context

from headway.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
    compare_type=True,
)
context.run_migrations()
