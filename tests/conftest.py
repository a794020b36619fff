"""Shared fixtures: workspaces on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid

# Wide enough that CLI tables do not truncate what the tests look for.
os.environ.setdefault("COLUMNS", "200")
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from headway.config import Settings
from headway.workspace import Workspace, init_workspace, use_workspace

PG_ADMIN = os.environ.get("HEADWAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except OperationalError as exc:
        return f"no PostgreSQL server answers at {PG_ADMIN} ({str(exc.orig).strip()})"


PG_SKIP = _pg_available()


@pytest.fixture
def pg_uri() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    name = f"headway_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ws(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """A workspace on each metadata backend, made current for the SDK."""
    if backend == "sqlite":
        workspace = init_workspace(tmp_path / "project")
    else:
        uri = request.getfixturevalue("pg_uri")
        (tmp_path / "project").mkdir()
        workspace = Workspace(Settings(tmp_path / "project", uri, str(tmp_path / "artifacts")))
    use_workspace(workspace)
    yield workspace
    use_workspace(None)


@pytest.fixture
def sqlite_ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = init_workspace(tmp_path / "project")
    use_workspace(workspace)
    yield workspace
    use_workspace(None)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's settings or write into the source tree."""
    for var in ("HEADWAY_STORE_URI", "HEADWAY_ARTIFACT_ROOT", "HEADWAY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
