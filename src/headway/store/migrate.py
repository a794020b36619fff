"""Schema migrations with Alembic, applied when a store is opened.

Opening reads the database's revision first and only loads Alembic when the database is
behind, so an up-to-date store opens without paying Alembic's import time. A database
stamped with a revision this code does not know was written by a newer Headway and is
refused rather than guessed at.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from headway.errors import StoreVersionError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["HEAD", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions; a test keeps the two in step.
HEAD = "0005"


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest schema revision in the migrations folder."""
    head = _script().get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is stamped with, or None for an empty database."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the database to the head revision, or refuse a database that is newer."""
    with engine.connect() as conn, conn.begin():
        current = current_revision(conn)
    if current == HEAD:
        return
    _check_known(current, engine)
    from alembic import command

    with engine.connect() as conn:
        conn = conn.execution_options(headway_write=True)
        with conn.begin():
            _lock_for_migration(conn)
            # Another process may have migrated while we waited for the lock.
            if current_revision(conn) != HEAD:
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")


def _check_known(revision: str | None, engine: Engine) -> None:
    if revision is None:
        return
    from alembic.util.exc import CommandError

    try:
        _script().get_revision(revision)
    except CommandError:
        raise StoreVersionError(
            f"the metadata store at {engine.url.render_as_string(hide_password=True)} is at "
            f"schema revision {revision!r}, which is newer than this Headway knows (newest: "
            f"{HEAD!r}); upgrade Headway (pip install -U headway) to open it"
        ) from None


def _lock_for_migration(conn: Connection) -> None:
    """Serialise migrations across processes (SQLite is already locked by BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4242424242)"))
