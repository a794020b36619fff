"""Any Python object with ``predict``, stored with cloudpickle.

Unpickling runs arbitrary code from the file, so loading requires ``trusted=True``: say
so only for models whose registration you trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headway.errors import UnsafeModelError
from headway.registry.flavors._base import Trust

__all__ = ["PythonFlavor"]

FILE = "model.cloudpickle"


class PythonFlavor:
    name: ClassVar[str] = "python"
    packages: ClassVar[tuple[str, ...]] = ("cloudpickle",)

    def accepts(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        import cloudpickle

        with open(folder / FILE, "wb") as fh:
            cloudpickle.dump(model, fh)
        return {"file": FILE, "class": f"{type(model).__module__}.{type(model).__qualname__}"}

    def load(self, folder: Path, options: dict[str, Any], trust: Trust) -> Any:
        if not trust.trusted:
            raise UnsafeModelError(
                f"this model ({options.get('class', 'a Python object')}) is stored with "
                "cloudpickle, and loading it runs code from its file; pass trusted=True to "
                "load_model only if you trust whoever registered it"
            )
        import cloudpickle

        with open(folder / options.get("file", FILE), "rb") as fh:
            return cloudpickle.load(fh)
