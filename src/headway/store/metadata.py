"""The metadata store: one SQLAlchemy engine, migrated on open, safe for many writers.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead of failing with
"database is locked" when a read transaction tries to upgrade. PostgreSQL needs nothing
special.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from headway.errors import StoreError
from headway.store.migrate import upgrade

__all__ = ["MetadataStore", "now_ms"]

SQLITE_BUSY_TIMEOUT_S = 60.0


def now_ms() -> int:
    """Milliseconds since the Unix epoch: the ledger's clock."""
    return time.time_ns() // 1_000_000


class MetadataStore:
    """Connections to the ledger's database, at the schema this code expects."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = _create_engine(uri)
        try:
            upgrade(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise StoreError(
                f"cannot open the metadata store at {self.display_uri}: {exc.orig}; check "
                "that the server is running and HEADWAY_STORE_URI (or [store] uri) is right"
            ) from exc

    @property
    def display_uri(self) -> str:
        """The URI with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(headway_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"MetadataStore({self.display_uri!r})"


def _create_engine(uri: str) -> Engine:
    try:
        if uri.startswith("sqlite"):
            return _sqlite_engine(uri)
        return create_engine(uri, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StoreError(
            f"store URI {_hidden(uri)!r} is not usable: Headway supports "
            "'sqlite:///path/headway.db' and 'postgresql+psycopg://host/db' "
            "(pip install 'headway[postgres]')"
        ) from exc
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the database driver {exc.name!r} for {_hidden(uri)!r} is not installed; "
            "Headway supports SQLite and PostgreSQL (pip install 'headway[postgres]')"
        ) from exc


def _hidden(uri: str) -> str:
    """The URI with any password masked, for messages."""
    try:
        return make_url(uri).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return uri.split("@")[-1]


def _sqlite_engine(uri: str) -> Engine:
    memory = ":memory:" in uri or uri.rstrip("/") == "sqlite:"
    engine = create_engine(
        uri,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        # One connection per checkout keeps separate processes and threads independent;
        # an in-memory database must instead share its single connection.
        poolclass=None if memory else NullPool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("headway_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
