"""Settings: ``headway.toml`` in the project directory, overridden by ``HEADWAY_*`` variables.

The project directory is the nearest folder at or above the current directory that holds a
``headway.toml``. Relative paths in the file are relative to that folder, so a workspace
can be moved or checked out elsewhere and still work.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headway.errors import ConfigError

__all__ = ["CONFIG_FILE", "DEFAULT_TOML", "Settings", "find_project_dir", "load_settings"]

CONFIG_FILE = "headway.toml"
STATE_DIR = ".headway"
DEFAULT_LOG_ROOT = ".headway/logs"

DEFAULT_TOML = """\
# Headway workspace settings. HEADWAY_* environment variables override these.
# Relative paths are relative to this file's folder.

[store]
# SQLAlchemy URL of the metadata store (HEADWAY_STORE_URI).
# For a team: "postgresql+psycopg://user@host:5432/headway"
uri = "sqlite:///.headway/headway.db"

[artifacts]
# Folder or fsspec URL for content-addressed blobs (HEADWAY_ARTIFACT_ROOT).
# For a team: "s3://bucket/headway", with [artifacts.storage_options] for the endpoint.
root = ".headway/artifacts"

[serving]
# Folder for the prediction and feedback logs (HEADWAY_LOG_ROOT). A local folder: the
# log appends files and renames them into place. Point every server worker at the same one.
log_root = ".headway/logs"

[auth]
# Bearer token required by write and admin endpoints when set (HEADWAY_TOKEN).
token = ""

[pipelines]
# Ray cluster for executor="ray" (HEADWAY_RAY_ADDRESS), e.g. "ray://head:10001";
# empty: start a local Ray on this machine.
ray_address = ""
"""


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how to reach it."""

    project_dir: Path
    store_uri: str
    artifact_root: str
    token: str | None = None
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    log_root: str = ""  # empty: the default folder in the project's state folder
    ray_address: str = ""  # empty: executor="ray" starts a local Ray

    def __post_init__(self) -> None:
        if not self.log_root:
            object.__setattr__(
                self, "log_root", str((self.project_dir / DEFAULT_LOG_ROOT).resolve())
            )

    @property
    def config_file(self) -> Path:
        return self.project_dir / CONFIG_FILE


def find_project_dir(start: Path | None = None) -> Path | None:
    """Return the nearest folder at or above ``start`` that holds a headway.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def load_settings(project_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``project_dir/headway.toml`` and apply ``HEADWAY_*`` overrides from ``env``."""
    env = os.environ if env is None else env
    path = project_dir / CONFIG_FILE
    try:
        doc = tomllib.loads(path.read_text()) if path.is_file() else {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc}); fix the file or delete it "
            "and run `headway init` to write a fresh one"
        ) from exc
    store = _section(doc, "store", path)
    artifacts = _section(doc, "artifacts", path)
    auth = _section(doc, "auth", path)
    serving = _section(doc, "serving", path)
    pipelines = _section(doc, "pipelines", path)
    uri = env.get("HEADWAY_STORE_URI") or store.get("uri") or "sqlite:///.headway/headway.db"
    root = env.get("HEADWAY_ARTIFACT_ROOT") or artifacts.get("root") or ".headway/artifacts"
    token = env.get("HEADWAY_TOKEN", auth.get("token")) or None
    log_root = env.get("HEADWAY_LOG_ROOT") or serving.get("log_root") or DEFAULT_LOG_ROOT
    options = artifacts.get("storage_options", {})
    ray_address = env.get("HEADWAY_RAY_ADDRESS") or pipelines.get("ray_address") or ""
    if not isinstance(uri, str) or not isinstance(root, str) or not isinstance(options, dict):
        raise ConfigError(
            f"{path}: store.uri and artifacts.root must be strings and "
            "artifacts.storage_options a table; see docs/configuration.md"
        )
    if not isinstance(log_root, str):
        raise ConfigError(f"{path}: serving.log_root must be a string, got {log_root!r}")
    if not isinstance(ray_address, str):
        raise ConfigError(
            f"{path}: pipelines.ray_address must be a string such as 'ray://head:10001', "
            f"got {ray_address!r}"
        )
    return Settings(
        project_dir=project_dir,
        store_uri=_resolve_store_uri(uri, project_dir),
        artifact_root=_resolve_artifact_root(root, project_dir),
        token=token,
        storage_options=options,
        log_root=_resolve_log_root(log_root, project_dir),
        ray_address=ray_address,
    )


def _section(doc: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table, got {value!r}")
    return value


def _resolve_store_uri(uri: str, project_dir: Path) -> str:
    if "://" not in uri:
        raise ConfigError(
            f"store URI {uri!r} is not a SQLAlchemy URL; use e.g. "
            "'sqlite:///.headway/headway.db' or 'postgresql+psycopg://host/db'"
        )
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        return prefix + str((project_dir / uri[len(prefix) :]).resolve())
    return uri


def _resolve_artifact_root(root: str, project_dir: Path) -> str:
    if "://" in root:
        return root
    return str((project_dir / root).resolve())


def _resolve_log_root(root: str, project_dir: Path) -> str:
    if "://" in root:
        raise ConfigError(
            f"serving.log_root {root!r} is a URL, but the prediction log needs a local folder "
            "(it appends files and renames them into place); use a path such as '.headway/logs'"
        )
    return str((project_dir / root).resolve())
