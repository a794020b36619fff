"""Connecting to Ray: the cluster in the settings, or a local one started on first use."""

from __future__ import annotations

import threading
from types import ModuleType

from headway.config import Settings
from headway.pipelines._errors import PipelineError

__all__ = ["connect"]

_lock = threading.Lock()


def connect(settings: Settings) -> ModuleType:
    """The ``ray`` module, initialised: a running Ray is reused (a notebook's, a test's),
    else ``[pipelines] ray_address`` / ``HEADWAY_RAY_ADDRESS`` is joined, else a local
    Ray starts on this machine and stays up for the rest of the process."""
    try:
        import ray
    except ImportError:
        raise PipelineError(
            "executor='ray' needs Ray, which is not installed; pip install 'headway[ray]' "
            "or choose executor='process'"
        ) from None
    with _lock:
        if not ray.is_initialized():
            address = settings.ray_address or None
            try:
                if address:
                    ray.init(address=address)
                else:
                    ray.init(include_dashboard=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address!r}" if address else "a local Ray"
                raise PipelineError(
                    f"cannot start or join {where}: {exc}; check "
                    "[pipelines] ray_address or HEADWAY_RAY_ADDRESS (empty starts a local Ray)"
                ) from exc
    return ray
