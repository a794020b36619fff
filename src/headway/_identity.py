"""Who is acting: recorded with runs, alias moves, deployment revisions and reviews."""

from __future__ import annotations

import getpass

__all__ = ["current_user"]


def current_user() -> str | None:
    """The login name, or None where there is none (a container without a passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
