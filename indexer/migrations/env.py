"""Alembic's entry point for the mirror's migrations: runs them on the engine `indexer.db` hands over."""

from alembic import context

from indexer.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
