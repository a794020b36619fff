"""What a run ran on: code version, command line, interpreter and installed packages."""

from __future__ import annotations

import importlib.metadata
import platform
import shlex
import socket
import subprocess
import sys
from functools import cache
from typing import Any

from headway._identity import current_user

__all__ = ["capture", "installed_packages"]


def capture() -> dict[str, Any]:
    """The environment of the current process, as stored on a run."""
    commit, dirty = _git_state()
    return {
        "user": current_user(),
        "git_commit": commit,
        "git_dirty": dirty,
        "command": shlex.join(sys.argv) if sys.argv and sys.argv[0] else None,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "packages": installed_packages(),
    }


@cache
def installed_packages() -> dict[str, str]:
    """Distribution name -> version for everything importable (computed once a process)."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name.lower(), dist.version)
    return dict(sorted(found.items()))


def _git_state() -> tuple[str | None, bool | None]:
    """HEAD's commit and whether tracked files have uncommitted changes, if in a git repo."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None
