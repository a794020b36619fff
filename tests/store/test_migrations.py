from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from headway.errors import StoreError, StoreVersionError
from headway.store.metadata import MetadataStore
from headway.store.migrate import HEAD, current_revision, head_revision
from headway.store.tables import metadata
from headway.workspace import Workspace


def test_migrations_build_exactly_the_declared_tables(ws: Workspace) -> None:
    with ws.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert current_revision(conn) == head_revision()


def test_reopening_an_up_to_date_store_changes_nothing(ws: Workspace) -> None:
    again = MetadataStore(ws.settings.store_uri)
    with again.read() as conn:
        assert current_revision(conn) == head_revision()
    again.close()


def test_a_database_from_a_newer_headway_is_refused(ws: Workspace) -> None:
    with ws.store.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StoreVersionError, match="newer than this Headway"):
        MetadataStore(ws.settings.store_uri)


def test_sqlite_runs_in_wal_mode(sqlite_ws: Workspace) -> None:
    with sqlite_ws.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the metadata store"):
        MetadataStore("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")


def test_a_missing_driver_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"not usable|not installed"):
        MetadataStore("nosuchdb://x/y")


def test_a_malformed_uri_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="not usable") as caught:
        MetadataStore("postgresql+psycopg://ml:s3cret@db:notaport/x")
    assert "s3cret" not in str(caught.value)


def test_the_head_constant_matches_the_migrations_folder() -> None:
    assert head_revision() == HEAD
