"""The demo workspace and the `headway ui` servers every UI test uses (built once)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The prediction server helpers (running(), free_port()) live beside the serving tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))

from ui_helpers import TOKEN, Demo, build_demo, ui_server

from headway.workspace import use_workspace


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    built = build_demo(tmp_path_factory.mktemp("ui") / "project")
    use_workspace(None)
    yield built


@pytest.fixture(scope="session")
def base_url(demo: Demo) -> Iterator[str]:
    """A `headway ui` without a token: open, on 127.0.0.1."""
    with ui_server(demo.ws.project_dir) as url:
        yield url


@pytest.fixture(scope="session")
def token_url(demo: Demo) -> Iterator[str]:
    """A `headway ui` whose workspace has a token."""
    with ui_server(demo.ws.project_dir, token=TOKEN) as url:
        yield url
