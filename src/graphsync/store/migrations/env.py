"""Alembic environment: graphsync runs migrations itself at start, on the connection it passes in."""
from alembic import context

from graphsync.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
