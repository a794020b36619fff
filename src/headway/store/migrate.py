"""Schema migrations with Alembic, applied when a store is opened.

Opening checks the database's revision first and only runs Alembic when it is behind, so
an up-to-date store opens in milliseconds. A database stamped with a revision this code
does not know was written by a newer Headway and is refused rather than guessed at.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text

from headway.errors import StoreVersionError

__all__ = ["current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = _script().get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is stamped with, or None for an empty database."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the head revision, or refuse a database that is newer."""
    with engine.connect() as conn:
        current = current_revision(conn)
    if current == head_revision():
        return
    _check_known(current, engine)
    with engine.connect() as conn:
        conn = conn.execution_options(headway_write=True)
        with conn.begin():
            _lock_for_migration(conn)
            # Another process may have migrated while we waited for the lock.
            if current_revision(conn) != head_revision():
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")


def _check_known(revision: str | None, engine: Engine) -> None:
    if revision is None:
        return
    try:
        _script().get_revision(revision)
    except CommandError:
        raise StoreVersionError(
            f"the metadata store at {engine.url.render_as_string(hide_password=True)} is at "
            f"schema revision {revision!r}, which is newer than this Headway knows (newest: "
            f"{head_revision()!r}); upgrade Headway (pip install -U headway) to open it"
        ) from None


def _lock_for_migration(conn: Connection) -> None:
    """Serialise migrations across processes (SQLite is already locked by BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4242424242)"))
