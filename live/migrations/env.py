"""Alembic environment: runs on the connection `live.db.migrate` hands over."""

from alembic import context
from sqlalchemy.engine import Connection

from live.db.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `live db upgrade`, which supplies a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
