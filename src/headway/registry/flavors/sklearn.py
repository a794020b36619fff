"""scikit-learn models, stored with skops: no pickle, and only trusted types are rebuilt.

Types from scikit-learn, NumPy and SciPy are trusted by default; anything else a model
references (a custom transformer, a function) must be named by the caller in
``trusted_types``, because rebuilding it could run its code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headway.errors import UnsafeModelError
from headway.registry.flavors._base import Trust, module_of

__all__ = ["SklearnFlavor"]

FILE = "model.skops"
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.")


class SklearnFlavor:
    name: ClassVar[str] = "sklearn"
    packages: ClassVar[tuple[str, ...]] = ("scikit-learn", "skops", "numpy", "scipy")

    def accepts(self, model: Any) -> bool:
        if module_of(model) != "sklearn" and not hasattr(model, "__sklearn_tags__"):
            return False
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        import skops.io

        skops.io.dump(model, folder / FILE)
        return {"file": FILE}

    def load(self, folder: Path, options: dict[str, Any], trust: Trust) -> Any:
        import skops.io

        path = folder / options.get("file", FILE)
        untrusted = skops.io.get_untrusted_types(file=path)
        refused = [
            t
            for t in untrusted
            if not trust.trusted and t not in trust.types and not t.startswith(TRUSTED_MODULES)
        ]
        if refused:
            raise UnsafeModelError(
                f"the model references types outside scikit-learn, NumPy and SciPy: {refused}; "
                "rebuilding them could run their code. If you trust them, pass "
                f"trusted_types={refused!r} to load_model"
            )
        return skops.io.load(path, trusted=untrusted)
