"""Group fairness of a binary classifier: rates per group, and their gaps and ratios.

Per group (the values of a sensitive attribute, or combinations of several): the number of
rows, the selection rate ``P(pred = 1)``, the true positive rate ``P(pred = 1 | y = 1)`` and
the false positive rate ``P(pred = 1 | y = 0)``. Across groups, for each rate, the gap
``max - min`` and the ratio ``min / max``; these are fairlearn's
``MetricFrame.difference()`` and ``MetricFrame.ratio()`` (``method="between_groups"``), so
the selection-rate gap is the demographic parity difference and the larger of the TPR and
FPR gaps the equalized odds difference (Hardt, Price & Srebro, *Equality of Opportunity in
Supervised Learning*, 2016).

A rate that is undefined in a group (a TPR in a group without positives) is None and left
out of the gap and ratio. When every group's rate is 0 the ratio is 1 (all groups equal).

Examples
--------
>>> report = fairness([1, 0, 1, 0], [1, 0, 1, 1], ["a", "a", "b", "b"])
>>> report.gaps["false_positive_rate"], report.ratios["selection_rate"]
(1.0, 0.5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from headway.errors import InvalidArgumentError
from headway.evaluate.metrics import _column, _plain

__all__ = ["RATES", "FairnessReport", "GroupRates", "fairness"]

#: The per-group rates, in the order reports list them.
RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")


@dataclass(frozen=True)
class GroupRates:
    """The rates of one group; a rate is None when its denominator is zero in the group."""

    group: Any
    count: int
    selection_rate: float
    true_positive_rate: float | None
    false_positive_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FairnessReport:
    """Rates per group and, per rate, the gap (max - min) and ratio (min / max) across groups.

    ``gaps`` and ``ratios`` map each name in :data:`RATES` to a number, or to None when
    no group has the rate defined.
    """

    positive_label: Any
    groups: list[GroupRates]
    gaps: dict[str, float | None]
    ratios: dict[str, float | None]

    def __getitem__(self, group: Any) -> GroupRates:
        for rates in self.groups:
            if rates.group == group:
                return rates
        raise InvalidArgumentError(
            f"no group {group!r} in this report; it has {[g.group for g in self.groups]}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FairnessReport:
        groups = [GroupRates(**g) for g in data["groups"]]
        return cls(**{**data, "groups": groups})


def fairness(y_true: Any, y_pred: Any, groups: Any, *, pos_label: Any = None) -> FairnessReport:
    """Selection rate, true and false positive rates per group, with their gaps and ratios.

    Parameters
    ----------
    y_true
        True binary labels.
    y_pred
        Predicted binary labels (threshold scores first).
    groups
        The group of each row: one column (array or Series), or a DataFrame of several
        sensitive columns, whose combinations become the groups (named ``"sex=F, age=old"``).
    pos_label
        The positive label. Default: 1 (or True) when the labels are 0/1, otherwise the
        larger of the two labels.

    Returns
    -------
    FairnessReport
        Groups in sorted order.

    Examples
    --------
    >>> y = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> pred = [1, 1, 1, 0, 1, 0, 0, 0]
    >>> sex = ["F", "F", "F", "F", "M", "M", "M", "M"]
    >>> report = fairness(y, pred, sex)
    >>> report["M"].true_positive_rate, report.gaps["true_positive_rate"]
    (0.5, 0.5)
    """
    y = _column(y_true, "y_true")
    pred = _column(y_pred, "y_pred", len(y))
    positive = _positive_label(y, pred, pos_label)
    codes, names = _group_codes(groups, len(y))
    yes, sel = y == positive, pred == positive
    k = len(names)
    count = np.bincount(codes, minlength=k)
    positives = np.bincount(codes, weights=yes, minlength=k)
    rates = {
        "selection_rate": _divide(np.bincount(codes, weights=sel, minlength=k), count),
        "true_positive_rate": _divide(
            np.bincount(codes, weights=yes & sel, minlength=k), positives
        ),
        "false_positive_rate": _divide(
            np.bincount(codes, weights=~yes & sel, minlength=k), count - positives
        ),
    }
    per_group = [
        GroupRates(
            _plain(name),
            int(count[i]),
            float(rates["selection_rate"][i]),
            *(_maybe(rates[r][i]) for r in RATES[1:]),
        )
        for i, name in enumerate(names)
    ]
    gaps, ratios = {}, {}
    for rate, values in rates.items():
        gaps[rate], ratios[rate] = _spread(values)
    return FairnessReport(_plain(positive), per_group, gaps, ratios)


def _positive_label(y: np.ndarray, pred: np.ndarray, pos_label: Any) -> Any:
    labels = pd.unique(np.concatenate([y, pred]))
    if pos_label is not None:
        extra = [v for v in labels if v != pos_label][1:]
        if extra:
            raise InvalidArgumentError(
                f"fairness needs a binary task, but y_true and y_pred hold {len(labels)} labels "
                f"({sorted(labels.tolist(), key=str)[:5]}); map them to two classes first"
            )
        return pos_label
    if np.isin(labels, [0, 1]).all():
        return True if labels.dtype == np.bool_ else 1
    if len(labels) != 2:
        raise InvalidArgumentError(
            f"fairness needs a binary task, but y_true and y_pred hold {len(labels)} labels "
            f"({sorted(labels.tolist(), key=str)[:5]}); map them to two classes, or pass "
            "pos_label= when only one label occurs"
        )
    return max(labels.tolist())


def _group_codes(groups: Any, n: int) -> tuple[np.ndarray, list[Any]]:
    """Each row's group as a code in ``0..k-1`` and the ``k`` group names, sorted."""
    if isinstance(groups, pd.DataFrame):
        if groups.shape[1] == 0:
            raise InvalidArgumentError("groups has no columns; pass at least one column")
        if len(groups) != n:
            raise InvalidArgumentError(
                f"groups has {len(groups)} rows but y_true has {n}; pass one group per row"
            )
        _check_complete(np.asarray(groups.isna().to_numpy().any(axis=1)), "groups")
        if groups.shape[1] > 1:
            parts = [f"{c}=" + groups[c].astype(str) for c in groups.columns]
            values = reduce(lambda a, b: a + ", " + b, parts).to_numpy(dtype=object)
        else:
            values = groups.iloc[:, 0].to_numpy()
    else:
        values = _column(groups, "groups", n)
        _check_complete(np.asarray(pd.isna(values), dtype=bool), "groups")
    codes, uniques = pd.factorize(values, sort=True)
    return codes, list(uniques)


def _check_complete(missing: np.ndarray, name: str) -> None:
    if missing.any():
        raise InvalidArgumentError(
            f"{name} has {int(missing.sum())} missing values; fill them (e.g. with 'unknown') "
            "to audit those rows as a group of their own"
        )


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _maybe(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _spread(values: np.ndarray) -> tuple[float | None, float | None]:
    """``(max - min, min / max)`` over the groups where the rate is defined."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return None, None
    low, high = float(defined.min()), float(defined.max())
    return high - low, low / high if high > 0 else 1.0
