"""Alembic environment: the connection (or engine) is handed in by store.db, never a URL string."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from tracker.store import line_models, trail_models, web_models  # noqa: F401  (their tables belong to the metadata)
from tracker.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine: Engine = context.config.attributes["engine"]
    with engine.begin() as conn:
        _run(conn)
