"""Finding a pipeline from the command line: ``path/to/file.py:name`` or ``package.module:name``."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from headway.pipelines._errors import PipelineError
from headway.pipelines._pipeline import Pipeline

__all__ = ["load_pipeline"]


def load_pipeline(target: str) -> Pipeline[..., Any]:
    """The pipeline named by ``FILE_OR_MODULE:PIPELINE``.

    A file is run as a module named after it, with its folder on ``sys.path`` (as
    ``python file.py`` would), so it can import its neighbours.
    """
    source, sep, name = target.rpartition(":")
    if not sep or not source or not name:
        raise PipelineError(
            f"{target!r} does not name a pipeline; use FILE.py:PIPELINE or "
            "package.module:PIPELINE, e.g. pipelines.py:training"
        )
    module = _load_file(Path(source)) if source.endswith(".py") else _import(source)
    found = getattr(module, name, None)
    if not isinstance(found, Pipeline):
        available = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        raise PipelineError(
            f"{source} has no pipeline named {name!r}"
            + (f"; it has {available}" if available else "; decorate a function with @pipeline")
        )
    return found


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PipelineError(f"no file {str(path)!r}; give the path of a Python file")
    path = path.resolve()
    module_name = "headway_pipeline_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PipelineError(f"cannot load {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # steps pickled by value look their module up here
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    return module


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise PipelineError(
            f"cannot import {name!r} ({exc}); give a module on the Python path or the path "
            "of a .py file"
        ) from exc
