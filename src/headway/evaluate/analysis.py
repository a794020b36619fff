"""Error analysis by tag: where the errors are, and which fix pays the most.

Each tag (e.g. ``"blurry"``, ``"non-native speaker"``) is a boolean mask over the evaluated
rows; tags may overlap. Per tag, the table gives the share of all errors that fall in it,
the error rate and accuracy within it, and its share of the data. With a second
annotator's labels (``human``) it also gives human-level accuracy within the tag, the
model's gap to it, and the *potential*: the overall accuracy gained by closing that gap,
``max(gap, 0) x share of data``. Rows are sorted by potential, largest first, so the team
works on what pays most (Ng, *Machine Learning Yearning*, 2018, ch. 14-18 and 33-35).

Without human labels the ceiling is taken as perfect accuracy, so the potential is
``error rate x share of data`` (the share of all rows that the tag's errors make up);
``potential_basis`` says which of the two a row used.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
>>> pred = np.array([0, 1, 1, 0, 0, 1, 0, 1])
>>> tags = {"blurry": [1, 1, 1, 1, 0, 0, 0, 0], "dark": [0, 0, 0, 0, 1, 1, 0, 0]}
>>> [(t.tag, t.share_of_errors, t.potential) for t in error_analysis(y, pred, tags)]
[('blurry', 1.0, 0.25), ('dark', 0.0, 0.0)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from headway.errors import InvalidArgumentError
from headway.evaluate.metrics import _column

__all__ = ["TagAnalysis", "error_analysis"]

PotentialBasis = Literal["gap_to_human", "error_rate"]


@dataclass(frozen=True)
class TagAnalysis:
    """The errors of one tag.

    Rates within the tag (``error_rate``, ``accuracy``, ``human_accuracy``) are None when
    the tag has no rows. ``gap_to_human`` is ``human_accuracy - accuracy`` (negative when
    the model beats the annotator); ``potential`` is the overall accuracy the fix would
    gain: ``max(gap_to_human, 0) * share_of_data`` when ``potential_basis`` is
    ``"gap_to_human"``, ``error_rate * share_of_data`` when it is ``"error_rate"``.
    """

    tag: str
    rows: int
    errors: int
    share_of_errors: float
    share_of_data: float
    error_rate: float | None
    accuracy: float | None
    human_accuracy: float | None
    gap_to_human: float | None
    potential: float
    potential_basis: PotentialBasis

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TagAnalysis:
        return cls(**data)


def error_analysis(
    y_true: Any,
    y_pred: Any,
    tags: Mapping[str, Any] | pd.DataFrame,
    *,
    human: Any = None,
) -> list[TagAnalysis]:
    """The error analysis table: one row per tag, sorted by potential improvement.

    Parameters
    ----------
    y_true
        True labels, one per row.
    y_pred
        The model's predicted labels.
    tags
        Tag name -> boolean mask with one value per row (0/1 is accepted), or a DataFrame
        of boolean columns, one per tag. Tags may overlap; a row may have none.
    human
        A second annotator's labels for the same rows. When given, each tag reports
        human-level accuracy, the gap to it, and a potential based on that gap; otherwise
        the potential is the tag's error rate times its share of the data.

    Returns
    -------
    list of TagAnalysis
        Sorted by ``potential`` descending, ties by share of errors, then by tag name.

    Examples
    --------
    >>> y = [1, 1, 1, 1, 0, 0]
    >>> pred = [0, 0, 1, 1, 0, 1]
    >>> human = [0, 1, 1, 1, 0, 0]
    >>> tags = {"noisy": [1, 1, 0, 0, 0, 0], "clean": [0, 0, 1, 1, 1, 1]}
    >>> for t in error_analysis(y, pred, tags, human=human):
    ...     print(t.tag, t.accuracy, t.human_accuracy, round(t.potential, 3))
    noisy 0.0 0.5 0.167
    clean 0.75 1.0 0.167
    """
    y = _column(y_true, "y_true")
    n = len(y)
    wrong = _column(y_pred, "y_pred", n) != y
    names, masks = _tag_masks(tags, n)
    rows = masks.sum(axis=0)
    errors = wrong.astype(np.int64) @ masks
    human_wrong = None if human is None else _column(human, "human", n) != y
    human_errors = None if human_wrong is None else human_wrong.astype(np.int64) @ masks
    total_errors = int(wrong.sum())
    results = [
        _tag_row(
            name,
            int(rows[i]),
            int(errors[i]),
            None if human_errors is None else int(human_errors[i]),
            n,
            total_errors,
        )
        for i, name in enumerate(names)
    ]
    return sorted(results, key=lambda t: (-t.potential, -t.share_of_errors, t.tag))


def _tag_row(
    name: str, rows: int, errors: int, human_errors: int | None, n: int, total_errors: int
) -> TagAnalysis:
    share = rows / n
    error_rate = errors / rows if rows else None
    accuracy = None if error_rate is None else 1.0 - error_rate
    human_accuracy = 1.0 - human_errors / rows if human_errors is not None and rows else None
    gap = None
    if human_accuracy is not None and accuracy is not None:
        gap = human_accuracy - accuracy
    if human_errors is not None:
        basis: PotentialBasis = "gap_to_human"
        potential = max(gap or 0.0, 0.0) * share
    else:
        basis = "error_rate"
        potential = (error_rate or 0.0) * share
    return TagAnalysis(
        tag=name,
        rows=rows,
        errors=errors,
        share_of_errors=errors / total_errors if total_errors else 0.0,
        share_of_data=share,
        error_rate=error_rate,
        accuracy=accuracy,
        human_accuracy=human_accuracy,
        gap_to_human=gap,
        potential=potential,
        potential_basis=basis,
    )


def _tag_masks(tags: Mapping[str, Any] | pd.DataFrame, n: int) -> tuple[list[str], np.ndarray]:
    """Tag names and an ``(n, n_tags)`` boolean matrix of their masks."""
    items = (
        [(str(c), tags[c]) for c in tags.columns]
        if isinstance(tags, pd.DataFrame)
        else [(str(name), mask) for name, mask in tags.items()]
        if isinstance(tags, Mapping)
        else None
    )
    if items is None:
        raise InvalidArgumentError(
            f"tags must be a mapping of tag name -> boolean mask or a DataFrame of boolean "
            f"columns, got {type(tags).__name__}"
        )
    if not items:
        raise InvalidArgumentError("tags is empty; pass at least one tag name -> boolean mask")
    masks = np.column_stack([_mask(name, mask, n) for name, mask in items])
    return [name for name, _ in items], masks


def _mask(name: str, values: Any, n: int) -> np.ndarray:
    if isinstance(values, pd.Series) and values.isna().any():
        raise InvalidArgumentError(
            f"tag {name!r} has {int(values.isna().sum())} missing values; "
            "fill them with False (untagged) first"
        )
    array = _column(values, f"tag {name!r}", n)
    if array.dtype == np.bool_:
        return array
    if not np.isin(array, [0, 1]).all():
        found = pd.unique(array[~np.isin(array, [0, 1])])[:5].tolist()
        raise InvalidArgumentError(
            f"tag {name!r} must be a boolean mask (True/False or 1/0), but it holds {found}; "
            "turn it into booleans, e.g. with df.col == value"
        )
    return array.astype(bool)
