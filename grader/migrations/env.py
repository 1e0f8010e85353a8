"""Alembic's environment: the connection `course_db.open_db` passes, or sqlalchemy.url (for
`alembic revision --autogenerate` by the grader's developers)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from grader.course_db import Base

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as own:
        context.configure(connection=own, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
