import tomllib
from pathlib import Path

import pytest

import headway
from headway.config import find_project_dir, load_settings
from headway.errors import ConfigError
from headway.workspace import Workspace, current_workspace, use_workspace


def test_init_writes_settings_and_state_folder(tmp_path: Path) -> None:
    ws = headway.init(tmp_path / "p")
    assert (tmp_path / "p" / "headway.toml").is_file()
    assert (tmp_path / "p" / ".headway" / "headway.db").is_file()
    assert ws.settings.store_uri == f"sqlite:///{tmp_path / 'p' / '.headway' / 'headway.db'}"
    assert ws.artifacts.root == str(tmp_path / "p" / ".headway" / "artifacts")


def test_relative_paths_resolve_against_the_project_dir(tmp_path: Path) -> None:
    (tmp_path / "headway.toml").write_text(
        '[store]\nuri = "sqlite:///db/ledger.db"\n[artifacts]\nroot = "blobs"\n'
    )
    s = load_settings(tmp_path, env={})
    assert s.store_uri == f"sqlite:///{tmp_path}/db/ledger.db"
    assert s.artifact_root == str(tmp_path / "blobs")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    headway.init(tmp_path)
    s = load_settings(
        tmp_path,
        env={
            "HEADWAY_STORE_URI": "postgresql+psycopg://h/db",
            "HEADWAY_ARTIFACT_ROOT": "s3://bucket/x",
            "HEADWAY_TOKEN": "secret",
        },
    )
    assert (s.store_uri, s.artifact_root, s.token) == (
        "postgresql+psycopg://h/db",
        "s3://bucket/x",
        "secret",
    )


def test_settings_are_found_upward(tmp_path: Path) -> None:
    headway.init(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_dir(deep) == tmp_path


def test_without_a_workspace_one_is_created_here_and_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    use_workspace(None)
    ws = current_workspace()
    try:
        assert ws.project_dir == tmp_path  # the autouse fixture chdirs here
        assert (tmp_path / "headway.toml").is_file()
        assert "created a new workspace" in caplog.text
    finally:
        use_workspace(None)


def test_bad_toml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "headway.toml").write_text("[store\nuri=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Workspace.open(tmp_path)


def test_a_store_uri_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    (tmp_path / "headway.toml").write_text('[store]\nuri = "ledger.db"\n')
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        load_settings(tmp_path, env={})


def test_the_log_root_defaults_to_the_state_folder(tmp_path: Path) -> None:
    ws = headway.init(tmp_path / "p")
    try:
        settings = tomllib.loads((tmp_path / "p" / "headway.toml").read_text())
        assert settings["serving"]["log_root"] == ".headway/logs"
        assert ws.log_root == tmp_path / "p" / ".headway" / "logs"
    finally:
        ws.close()


def test_the_log_root_resolves_against_the_project_dir_and_the_environment_wins(
    tmp_path: Path,
) -> None:
    (tmp_path / "headway.toml").write_text('[serving]\nlog_root = "../shared/logs"\n')
    assert load_settings(tmp_path, env={}).log_root == str(tmp_path.parent / "shared/logs")
    env = {"HEADWAY_LOG_ROOT": "/var/log/headway"}
    assert load_settings(tmp_path, env=env).log_root == "/var/log/headway"


def test_a_log_root_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a local folder"):
        load_settings(tmp_path, env={"HEADWAY_LOG_ROOT": "s3://bucket/logs"})
