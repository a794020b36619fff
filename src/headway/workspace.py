"""A workspace: the settings, metadata store and artifact store that make one ledger.

The SDK and CLI use the *current* workspace: the one set with :func:`use_workspace`,
else the nearest ``headway.toml`` upward from the current directory, else a new default
workspace created in the current directory (and a line saying so).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from headway.config import CONFIG_FILE, DEFAULT_TOML, STATE_DIR, Settings, find_project_dir
from headway.config import load_settings as _load_settings
from headway.store.artifacts import ArtifactStore
from headway.store.metadata import MetadataStore

__all__ = ["Workspace", "current_workspace", "init_workspace", "use_workspace"]

log = logging.getLogger("headway")


class Workspace:
    """One ledger: where its metadata and artifacts live, opened and migrated."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = MetadataStore(settings.store_uri)
        self.artifacts = ArtifactStore(settings.artifact_root, settings.storage_options)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """Open the workspace at ``path`` (or found upward from the current directory)."""
        start = Path(path) if path is not None else None
        project = find_project_dir(start)
        if project is None:
            if os.environ.get("HEADWAY_STORE_URI") and os.environ.get("HEADWAY_ARTIFACT_ROOT"):
                # Fully configured from the environment (a server, a CI job): write nothing.
                return cls(_load_settings((start or Path.cwd()).resolve()))
            return init_workspace(start or Path.cwd(), announce=True)
        return cls(_load_settings(project))

    @property
    def project_dir(self) -> Path:
        return self.settings.project_dir

    @property
    def log_root(self) -> Path:
        """The folder of the prediction and feedback logs (see :mod:`headway.serving.log`)."""
        return Path(self.settings.log_root)

    @property
    def cache_dir(self) -> Path:
        """Local copies of model files, verified on the way in: in the workspace's state
        folder, or the user cache when the workspace is configured by environment only."""
        state = self.project_dir / STATE_DIR
        if state.is_dir():
            return state / "cache"
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "headway"

    def close(self) -> None:
        self.store.close()

    def __repr__(self) -> str:
        return (
            f"Workspace({str(self.project_dir)!r}, store={self.store.display_uri!r}, "
            f"artifacts={self.artifacts.root!r})"
        )


def init_workspace(path: str | os.PathLike[str] = ".", announce: bool = False) -> Workspace:
    """Create ``headway.toml`` and ``.headway/`` in ``path`` (keeping any that exist)."""
    project = Path(path).resolve()
    config = project / CONFIG_FILE
    created = not config.exists()
    if created:
        project.mkdir(parents=True, exist_ok=True)
        config.write_text(DEFAULT_TOML)
    (project / STATE_DIR).mkdir(exist_ok=True)
    (project / STATE_DIR / ".gitignore").write_text("*\n")
    workspace = Workspace(_load_settings(project))
    if created and announce:
        log.warning(
            "headway: no headway.toml found here or above; created a new workspace in %s", project
        )
    return workspace


_lock = threading.Lock()
_current: Workspace | None = None


def use_workspace(workspace: Workspace | str | os.PathLike[str] | None) -> Workspace | None:
    """Make ``workspace`` (or the one at a path) current; ``None`` forgets the current one."""
    global _current
    with _lock:
        if _current is not None and _current is not workspace:
            _current.close()
        if workspace is None or isinstance(workspace, Workspace):
            _current = workspace
        else:
            _current = Workspace.open(workspace)
        return _current


def current_workspace() -> Workspace:
    """The current workspace, opening (or creating) it on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Workspace.open()
        return _current
