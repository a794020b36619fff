"""Split a table into train, validation and test sets, and check the split for leakage.

Five strategies, each the right one for a kind of data:

- ``random``: rows shuffled and cut; for independent, identically distributed rows.
- ``stratified``: every split keeps the label's class shares (scikit-learn's
  ``StratifiedShuffleSplit``); for classification, above all with rare classes.
- ``time``: train on the past, test on the future (rows before a cutoff, or all but the
  latest ``test_size`` share); for a model that will predict forward in time.
- ``rolling``: rolling-origin evaluation over an expanding window (scikit-learn's
  ``TimeSeriesSplit``): ``n_splits`` folds, each training on everything before its test fold.
- ``group``: every group (customer, patient, session) lands in one split only (scikit-learn's
  ``GroupShuffleSplit``); for rows that are not independent of each other.

Every split comes with a :class:`SplitReport`: each split's size and label distribution, and
leakage checks: rows repeated across splits, groups in two splits, later splits holding rows
older than earlier ones, and single features that give the label away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.model_selection import GroupShuffleSplit, StratifiedShuffleSplit, TimeSeriesSplit

from headway._tabular import BOOLEAN, DATETIME, FLOAT, INTEGER, kind_of, to_pandas
from headway.errors import InvalidArgumentError

__all__ = [
    "STRATEGIES",
    "LeakageCheck",
    "SplitReport",
    "SplitResult",
    "SplitStats",
    "split",
]

STRATEGIES = ("random", "stratified", "time", "rolling", "group")

#: An integer label with at most this many distinct values is a class label.
MAX_CLASSES = 20

CLASSES, CONTINUOUS = "classes", "continuous"

Positions = np.ndarray  # row positions (iloc) into the input table


@dataclass(frozen=True)
class LeakageCheck:
    """One leakage check: what was checked, whether it passed, and how many offenders.

    ``count`` counts rows (duplicate rows, time overlap), groups (group overlap) or features
    (label leakage), as ``detail`` says.
    """

    name: str
    passed: bool
    detail: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "count": self.count,
        }


@dataclass(frozen=True)
class SplitStats:
    """Size and label distribution of one split.

    ``label_shares`` maps each class (as a string) to its share of the split's labelled rows
    for a class label; ``label_mean`` and ``label_std`` describe a continuous label. Fields
    that do not apply are empty or None.
    """

    name: str
    size: int
    label_shares: dict[str, float]
    label_mean: float | None = None
    label_std: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "label_shares": dict(self.label_shares),
            "label_mean": self.label_mean,
            "label_std": self.label_std,
        }


@dataclass(frozen=True)
class SplitReport:
    """What a split produced and whether it leaks. JSON-able; holds no table."""

    strategy: str
    label: str | None
    label_kind: str | None
    splits: tuple[SplitStats, ...]
    checks: tuple[LeakageCheck, ...]

    @property
    def ok(self) -> bool:
        """True when every leakage check passed."""
        return all(check.passed for check in self.checks)

    @property
    def sizes(self) -> dict[str, int]:
        return {stats.name: stats.size for stats in self.splits}

    def check(self, name: str) -> LeakageCheck:
        """The leakage check called ``name``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise InvalidArgumentError(
            f"this report has no check {name!r}; it has {[c.name for c in self.checks]}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "label": self.label,
            "label_kind": self.label_kind,
            "splits": [stats.to_dict() for stats in self.splits],
            "checks": [check.to_dict() for check in self.checks],
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitReport:
        return cls(
            strategy=data["strategy"],
            label=data["label"],
            label_kind=data["label_kind"],
            splits=tuple(SplitStats(**stats) for stats in data["splits"]),
            checks=tuple(LeakageCheck(**check) for check in data["checks"]),
        )


@dataclass(frozen=True, eq=False)
class SplitResult:
    """The split tables by name, and the report on them.

    Keys are ``train``, ``validation`` (only when asked for) and ``test``; for ``rolling``
    they are ``fold0/train``, ``fold0/test``, ``fold1/train``, ... Every row keeps its index
    label from the input table.
    """

    splits: dict[str, pd.DataFrame]
    report: SplitReport


@dataclass(frozen=True)
class _Options:
    strategy: str
    label: str | None
    time_column: str | None
    group_column: str | None
    test_size: float
    validation_size: float
    cutoff: Any
    n_splits: int
    seed: int
    leakage_threshold: float


def split(
    table: Any,
    strategy: str = "random",
    *,
    label: str | None = None,
    time_column: str | None = None,
    group_column: str | None = None,
    test_size: float = 0.2,
    validation_size: float = 0.0,
    cutoff: Any = None,
    n_splits: int = 3,
    seed: int = 0,
    leakage_threshold: float = 0.99,
) -> SplitResult:
    """Split a table by one strategy and report on the split's leakage.

    Parameters
    ----------
    table
        A pandas, polars or pyarrow table.
    strategy
        One of ``random``, ``stratified``, ``time``, ``rolling`` or ``group``.
    label
        The label column. Needed by ``stratified``; with any strategy it adds the label
        distribution of every split and the label-leakage check to the report.
    time_column
        The time column. Needed by ``time`` and ``rolling``; with any strategy it adds the
        time-overlap check to the report.
    group_column
        The group column. Needed by ``group``; with any strategy it adds the group-overlap
        check to the report.
    test_size
        Share of rows in the test split, in (0, 1); for ``group``, the share of groups. Not
        used by ``rolling``, whose test folds hold ``n // (n_splits + 1)`` rows each, nor by
        ``time`` with a ``cutoff``.
    validation_size
        Share of rows (groups for ``group``) in the validation split, in [0, 1); 0 means no
        validation split. ``time`` takes it from the latest rows of train.
    cutoff
        For ``time``: rows with a time before ``cutoff`` train, the rest test. A value
        comparable with the time column (a number, a timestamp, a date string).
    n_splits
        For ``rolling``: the number of folds, at least 2.
    seed
        Seed of every random choice, so the same call gives the same split.
    leakage_threshold
        A feature is suspected of label leakage when its ROC AUC on train is at least this or
        at most one minus this (class label), or its absolute Pearson correlation with the
        label is at least this (continuous label). For ``rolling``, train is the last fold's.

    Returns
    -------
    SplitResult
        The split tables (``time`` and ``rolling`` splits sorted by time, the others in the
        table's row order) and their :class:`SplitReport`.

    Raises
    ------
    InvalidArgumentError
        An unknown strategy, a missing column, a size out of range, too few rows or groups
        for the split, or a label class too small to stratify.

    Examples
    --------
    >>> from headway.data.synthetic import make_churn
    >>> result = split(make_churn(200), "stratified", label="churned", seed=1)
    >>> {name: len(part) for name, part in result.splits.items()}
    {'train': 160, 'test': 40}
    >>> result.report.ok
    True
    """
    df = to_pandas(table)
    options = _Options(
        strategy,
        label,
        time_column,
        group_column,
        test_size,
        validation_size,
        cutoff,
        n_splits,
        seed,
        leakage_threshold,
    )
    _validate(df, options)
    parts = _STRATEGIES[strategy](df, options)
    return SplitResult(
        splits={name: df.iloc[positions] for name, positions in parts.items()},
        report=_report(df, parts, options),
    )


# --- validation ---------------------------------------------------------------------------


_NEEDS = {
    "stratified": "label",
    "time": "time_column",
    "rolling": "time_column",
    "group": "group_column",
}


def _validate(df: pd.DataFrame, o: _Options) -> None:
    if o.strategy not in STRATEGIES:
        raise InvalidArgumentError(
            f"unknown split strategy {o.strategy!r}; use one of {', '.join(STRATEGIES)}"
        )
    for argument, column in (
        ("label", o.label),
        ("time_column", o.time_column),
        ("group_column", o.group_column),
    ):
        if column is not None and column not in df.columns:
            raise InvalidArgumentError(
                f"{argument}={column!r} is not a column of the table; "
                f"available columns: {', '.join(map(str, df.columns))}"
            )
    needed = _NEEDS.get(o.strategy)
    if needed is not None and getattr(o, needed) is None:
        raise InvalidArgumentError(
            f"strategy {o.strategy!r} needs {needed}=...; pass one of the table's columns: "
            f"{', '.join(map(str, df.columns))}"
        )
    if not 0 < o.test_size < 1:
        raise InvalidArgumentError(
            f"test_size must be between 0 and 1 (exclusive) but is {o.test_size!r}; "
            "pass a share of rows such as 0.2"
        )
    if not 0 <= o.validation_size < 1 or o.test_size + o.validation_size >= 1:
        raise InvalidArgumentError(
            f"validation_size must be in [0, 1) and leave rows for train, but is "
            f"{o.validation_size!r} with test_size={o.test_size!r}; lower one of them"
        )
    if not 0.5 < o.leakage_threshold <= 1:
        raise InvalidArgumentError(
            f"leakage_threshold must be in (0.5, 1] but is {o.leakage_threshold!r}; "
            "the default 0.99 flags features that predict the label almost perfectly"
        )
    if o.cutoff is not None and o.strategy != "time":
        raise InvalidArgumentError(
            f"cutoff applies to strategy 'time' only, not {o.strategy!r}; "
            "pass strategy='time' or drop the cutoff"
        )
    if o.strategy == "rolling":
        if o.validation_size:
            raise InvalidArgumentError(
                "validation_size does not apply to strategy 'rolling', whose folds are the "
                "validation; drop validation_size or use strategy='time'"
            )
        if isinstance(o.n_splits, bool) or not isinstance(o.n_splits, int) or o.n_splits < 2:
            raise InvalidArgumentError(
                f"n_splits must be an integer of at least 2 but is {o.n_splits!r}"
            )
    if o.time_column is not None and o.strategy in ("time", "rolling"):
        missing = int(df[o.time_column].isna().sum())
        if missing:
            raise InvalidArgumentError(
                f"time column {o.time_column!r} has {missing} missing values, which have no "
                "place in time; drop or fill them before splitting"
            )


def _too_few_rows(n: int, o: _Options) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"a table of {n} rows is too small for test_size={o.test_size} and "
        f"validation_size={o.validation_size}: every split needs at least one row; "
        "pass more rows or lower the sizes"
    )


def _sizes(n: int, o: _Options) -> tuple[int, int, int]:
    """Rows in (train, validation, test); test and validation round up, like scikit-learn."""
    n_test = math.ceil(o.test_size * n)
    n_validation = math.ceil(o.validation_size * n) if o.validation_size else 0
    n_train = n - n_test - n_validation
    if n_train < 1 or n_test < 1:
        raise _too_few_rows(n, o)
    return n_train, n_validation, n_test


def _named(train: Positions, validation: Positions, test: Positions) -> dict[str, Positions]:
    parts = {"train": train}
    if len(validation):
        parts["validation"] = validation
    parts["test"] = test
    return parts


# --- strategies ---------------------------------------------------------------------------


def _random(df: pd.DataFrame, o: _Options) -> dict[str, Positions]:
    n_train, n_validation, _ = _sizes(len(df), o)
    order = np.random.default_rng(o.seed).permutation(len(df))
    return _named(
        np.sort(order[:n_train]),
        np.sort(order[n_train : n_train + n_validation]),
        np.sort(order[n_train + n_validation :]),
    )


def _stratified(df: pd.DataFrame, o: _Options) -> dict[str, Positions]:
    assert o.label is not None
    n_train, n_validation, n_test = _sizes(len(df), o)
    codes, classes = pd.factorize(df[o.label], use_na_sentinel=False)
    counts = np.bincount(codes)
    n_parts = 3 if n_validation else 2
    rare = int(counts.argmin())
    if counts[rare] < n_parts:
        raise InvalidArgumentError(
            f"class {classes[rare]!r} of label {o.label!r} has only {counts[rare]} of "
            f"{len(df)} rows, too few to put one in each of {n_parts} splits; merge rare "
            "classes, drop them, or use "
            "strategy='random' (for a continuous label, bin it first with pandas.qcut)"
        )
    for name, size in (("train", n_train), ("validation", n_validation), ("test", n_test)):
        if size and size < len(classes):
            raise InvalidArgumentError(
                f"the {name} split would hold {size} rows, fewer than the {len(classes)} "
                f"classes of label {o.label!r}; pass more rows or change test_size and "
                "validation_size"
            )
    rest, test = next(
        StratifiedShuffleSplit(1, test_size=n_test, random_state=o.seed).split(
            np.zeros(len(df)), codes
        )
    )
    validation = np.empty(0, dtype=np.intp)
    if n_validation:
        keep, held = next(
            StratifiedShuffleSplit(1, test_size=n_validation, random_state=o.seed).split(
                np.zeros(len(rest)), codes[rest]
            )
        )
        rest, validation = rest[keep], rest[held]
    return _named(np.sort(rest), np.sort(validation), np.sort(test))


def _time_order(df: pd.DataFrame, o: _Options) -> Positions:
    assert o.time_column is not None
    return np.asarray(
        df[o.time_column].reset_index(drop=True).sort_values(kind="stable").index, dtype=np.intp
    )


def _time(df: pd.DataFrame, o: _Options) -> dict[str, Positions]:
    order = _time_order(df, o)
    if o.cutoff is None:
        n_train, n_validation, _ = _sizes(len(df), o)
        return _named(
            order[:n_train],
            order[n_train : n_train + n_validation],
            order[n_train + n_validation :],
        )
    times = df[o.time_column]
    try:
        before = np.asarray(times.iloc[order] < o.cutoff, dtype=bool)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"cannot compare cutoff {o.cutoff!r} with time column {o.time_column!r} "
            f"({times.dtype}): {exc}; pass a cutoff of the column's type"
        ) from exc
    past, future = order[before], order[~before]
    n_validation = math.ceil(o.validation_size * len(df)) if o.validation_size else 0
    if len(past) <= n_validation or not len(future):
        raise InvalidArgumentError(
            f"cutoff {o.cutoff!r} leaves {len(past)} rows before it and {len(future)} from it "
            f"(with {n_validation} validation rows to take from before it), but {o.time_column!r} "
            f"runs from {times.min()} to {times.max()}; pick a cutoff inside that range"
        )
    n_train = len(past) - n_validation
    return _named(past[:n_train], past[n_train:], future)


def _rolling(df: pd.DataFrame, o: _Options) -> dict[str, Positions]:
    if len(df) < o.n_splits + 1:
        raise InvalidArgumentError(
            f"a table of {len(df)} rows is too small for {o.n_splits} rolling folds, which need "
            f"at least {o.n_splits + 1} rows; pass more rows or lower n_splits"
        )
    order = _time_order(df, o)
    parts: dict[str, Positions] = {}
    for fold, (train, test) in enumerate(TimeSeriesSplit(n_splits=o.n_splits).split(order)):
        parts[f"fold{fold}/train"] = order[train]
        parts[f"fold{fold}/test"] = order[test]
    return parts


def _group(df: pd.DataFrame, o: _Options) -> dict[str, Positions]:
    assert o.group_column is not None
    codes, groups = pd.factorize(df[o.group_column], use_na_sentinel=False)
    n_test = math.ceil(o.test_size * len(groups))
    n_validation = math.ceil(o.validation_size * len(groups)) if o.validation_size else 0
    if len(groups) - n_test - n_validation < 1:
        raise InvalidArgumentError(
            f"group column {o.group_column!r} has {len(groups)} groups, too few for "
            f"test_size={o.test_size} and validation_size={o.validation_size} with at least "
            "one group in every split; pass more groups or lower the sizes"
        )
    rest, test = next(
        GroupShuffleSplit(1, test_size=n_test, random_state=o.seed).split(
            np.zeros(len(df)), groups=codes
        )
    )
    validation = np.empty(0, dtype=np.intp)
    if n_validation:
        keep, held = next(
            GroupShuffleSplit(1, test_size=n_validation, random_state=o.seed).split(
                np.zeros(len(rest)), groups=codes[rest]
            )
        )
        rest, validation = rest[keep], rest[held]
    return _named(np.sort(rest), np.sort(validation), np.sort(test))


_STRATEGIES = {
    "random": _random,
    "stratified": _stratified,
    "time": _time,
    "rolling": _rolling,
    "group": _group,
}


# --- report -------------------------------------------------------------------------------


def _report(df: pd.DataFrame, parts: dict[str, Positions], o: _Options) -> SplitReport:
    kind = _label_kind(df[o.label]) if o.label is not None else None
    # Splits in the order data flows through them: a later one must not see an earlier one.
    if o.strategy == "rolling":
        sequences = [[f"fold{i}/train", f"fold{i}/test"] for i in range(len(parts) // 2)]
        train = parts[f"fold{len(parts) // 2 - 1}/train"]
    else:
        sequences = [list(parts)]
        train = parts["train"]
    checks = [_duplicate_check(df, parts, sequences)]
    if o.group_column is not None:
        checks.append(_group_check(df[o.group_column], parts, sequences))
    if o.time_column is not None:
        checks.append(_time_check(df[o.time_column], parts, sequences))
    if o.label is not None and kind is not None:
        checks.append(_label_leakage_check(df.iloc[train], o.label, kind, o))
    return SplitReport(
        strategy=o.strategy,
        label=o.label,
        label_kind=kind,
        splits=tuple(
            _stats(name, df, positions, o.label, kind) for name, positions in parts.items()
        ),
        checks=tuple(checks),
    )


def _label_kind(series: pd.Series) -> str:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return CLASSES
    kind = kind_of(series)
    if kind == FLOAT or (kind == INTEGER and series.nunique() > MAX_CLASSES):
        return CONTINUOUS
    return CLASSES


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _stats(
    name: str, df: pd.DataFrame, positions: Positions, label: str | None, kind: str | None
) -> SplitStats:
    if label is None:
        return SplitStats(name, len(positions), {})
    values = df[label].iloc[positions]
    if kind == CLASSES:
        shares = values.value_counts(normalize=True, sort=False)
        classes = pd.Series(df[label].dropna().unique()).sort_values()
        return SplitStats(
            name,
            len(positions),
            {str(c): float(shares.get(c, 0.0)) for c in classes},
        )
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    mean = _finite(float(numbers.mean())) if len(numbers) else None
    std = _finite(float(numbers.std())) if len(numbers) > 1 else None
    return SplitStats(name, len(positions), {}, mean, std)


def _quote(names: Sequence[str]) -> str:
    return " and ".join(f"{name!r}" for name in names)


def _summary(findings: list[str]) -> str:
    more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
    return "; ".join(findings[:3]) + more


def _duplicate_check(
    df: pd.DataFrame, parts: dict[str, Positions], sequences: list[list[str]]
) -> LeakageCheck:
    hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    count, findings = 0, list[str]()
    for sequence in sequences:
        for j in range(1, len(sequence)):
            earlier = np.concatenate([hashes[parts[name]] for name in sequence[:j]])
            shared = int(np.isin(hashes[parts[sequence[j]]], earlier).sum())
            if shared:
                count += shared
                findings.append(
                    f"{shared} rows of {sequence[j]!r} repeat rows of {_quote(sequence[:j])}"
                )
    if not count:
        return LeakageCheck("duplicate_rows", True, "no split repeats a row of an earlier split", 0)
    return LeakageCheck(
        "duplicate_rows",
        False,
        f"{_summary(findings)}; the model is tested on rows it trained on: drop duplicate "
        "rows before splitting (DataFrame.drop_duplicates) or split by group",
        count,
    )


def _group_check(
    groups: pd.Series, parts: dict[str, Positions], sequences: list[list[str]]
) -> LeakageCheck:
    codes, uniques = pd.factorize(groups, use_na_sentinel=False)
    count, examples = 0, list[str]()
    for sequence in sequences:
        present = np.concatenate([np.unique(codes[parts[name]]) for name in sequence])
        shared = np.flatnonzero(np.bincount(present, minlength=len(uniques)) > 1)
        count += len(shared)
        examples.extend(str(uniques[code]) for code in shared[:3])
    name = groups.name
    if not count:
        return LeakageCheck("group_overlap", True, f"every group of {name!r} stays in one split", 0)
    return LeakageCheck(
        "group_overlap",
        False,
        f"{count} groups of {name!r} fall in more than one split (e.g. "
        f"{', '.join(examples[:3])}); use strategy='group' with group_column={name!r} so each "
        "group stays in one split",
        count,
    )


def _time_check(
    times: pd.Series, parts: dict[str, Positions], sequences: list[list[str]]
) -> LeakageCheck:
    count, findings = 0, list[str]()
    for sequence in sequences:
        for j in range(1, len(sequence)):
            latest = times.iloc[np.concatenate([parts[name] for name in sequence[:j]])].max()
            later = times.iloc[parts[sequence[j]]]
            older = int((later < latest).sum())
            if older:
                count += older
                findings.append(
                    f"{older} rows of {sequence[j]!r} (from {later.min()}) are older than the "
                    f"latest row of {_quote(sequence[:j])} ({latest})"
                )
    name = times.name
    if not count:
        return LeakageCheck(
            "time_overlap",
            True,
            f"by {name!r}, every split starts at or after the end of the splits before it",
            0,
        )
    return LeakageCheck(
        "time_overlap",
        False,
        f"{_summary(findings)}; the model trains on the future of its test rows: use "
        f"strategy='time' or 'rolling' with time_column={name!r}",
        count,
    )


# --- label leakage ------------------------------------------------------------------------


def _label_leakage_check(train: pd.DataFrame, label: str, kind: str, o: _Options) -> LeakageCheck:
    train = train[train[label].notna()]
    features = [column for column in train.columns if column != label]
    # Two random halves, so a categorical feature is scored out of fold (see _target_means).
    folds = np.random.default_rng(o.seed).integers(0, 2, len(train))
    threshold = o.leakage_threshold
    flagged: list[str] = []
    if kind == CLASSES:
        codes, classes = pd.factorize(train[label], sort=True)
        if len(classes) < 2:
            return LeakageCheck(
                "label_leakage",
                True,
                f"train holds a single class of {label!r}, so label leakage cannot be judged",
                0,
            )
        for feature in features:
            auc = _feature_auc(train[feature], codes, len(classes), folds)
            if auc >= threshold or auc <= 1 - threshold:
                flagged.append(f"{feature!r} (ROC AUC {auc:.3f})")
        measure = f"ROC AUC within ({1 - threshold:.3g}, {threshold:.3g})"
    else:
        target = pd.to_numeric(train[label], errors="coerce").to_numpy(dtype=float)
        for feature in features:
            r = _feature_correlation(train[feature], target, folds)
            if abs(r) >= threshold:
                flagged.append(f"{feature!r} (Pearson r {r:.3f})")
        measure = f"|Pearson r| below {threshold:.3g}"
    if not flagged:
        return LeakageCheck(
            "label_leakage", True, f"no single feature predicts {label!r} on train ({measure})", 0
        )
    return LeakageCheck(
        "label_leakage",
        False,
        f"{', '.join(flagged)} {'predicts' if len(flagged) == 1 else 'predict'} {label!r} "
        "almost perfectly on train; such a feature is usually computed from the label or known "
        "only after it: drop it or check how it is computed",
        len(flagged),
    )


def _numeric(series: pd.Series) -> np.ndarray | None:
    """The feature as floats (NaN where missing), or None for a categorical feature."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return None
    kind = kind_of(series)
    if kind == DATETIME:
        stamps = pd.to_datetime(series, errors="coerce", utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return np.asarray(seconds, dtype=float)
    if kind in (INTEGER, FLOAT, BOOLEAN):
        numbers = pd.to_numeric(series, errors="coerce")
        return np.asarray(numbers.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    return None


def _target_means(series: pd.Series, target: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each row's category mean of ``target`` (rows x columns), fitted on the other fold.

    Fitting on the rows it scores would let any identifier (one row per category) predict
    the label perfectly; out of fold, an unseen category scores the fold's overall mean.
    """
    codes = pd.factorize(series, use_na_sentinel=False)[0]
    n_categories = int(codes.max()) + 1 if len(codes) else 0
    means = np.empty_like(target)
    for fold in (0, 1):
        fit, apply = folds != fold, folds == fold
        if not apply.any():
            continue
        if not fit.any():
            means[apply] = target.mean(axis=0)
            continue
        counts = np.bincount(codes[fit], minlength=n_categories)[:, None]
        sums = np.stack(
            [
                np.bincount(codes[fit], weights=target[fit, j], minlength=n_categories)
                for j in range(target.shape[1])
            ],
            axis=1,
        )
        table = np.where(counts > 0, sums / np.maximum(counts, 1), target[fit].mean(axis=0))
        means[apply] = table[codes[apply]]
    return means


def _class_aucs(scores: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """One-vs-rest ROC AUC of ``scores`` for every class, from ranks (Mann-Whitney U)."""
    ranks = rankdata(scores)
    n_class = np.bincount(codes, minlength=n_classes).astype(float)
    rank_sums = np.bincount(codes, weights=ranks, minlength=n_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        aucs = (rank_sums - n_class * (n_class + 1) / 2) / (n_class * (len(codes) - n_class))
    return np.where(np.isfinite(aucs), aucs, 0.5)


def _most_extreme(values: list[float], centre: float) -> float:
    return max(values, key=lambda value: abs(value - centre))


def _feature_auc(series: pd.Series, codes: np.ndarray, n_classes: int, folds: np.ndarray) -> float:
    """The feature's most extreme one-vs-rest ROC AUC (for two classes, the second class's)."""
    scored = [1] if n_classes == 2 else list(range(n_classes))
    values = _numeric(series)
    aucs: list[float] = []
    if values is None:
        means = _target_means(series, np.eye(n_classes)[codes], folds)
        for c in scored:
            aucs.append(float(_class_aucs(means[:, c], codes, n_classes)[c]))
        return _most_extreme(aucs, 0.5)
    missing = np.isnan(values)
    # Missing values rank lowest, then highest, so that missingness itself is scored too.
    for fill in (-np.inf, np.inf) if missing.any() else (0.0,):
        aucs.extend(_class_aucs(np.where(missing, fill, values), codes, n_classes)[scored].tolist())
    return _most_extreme(aucs, 0.5)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / denominator if denominator > 0 else 0.0


def _feature_correlation(series: pd.Series, target: np.ndarray, folds: np.ndarray) -> float:
    values = _numeric(series)
    if values is None:
        return _pearson(_target_means(series, target[:, None], folds)[:, 0], target)
    missing = np.isnan(values)
    correlations = [_pearson(values[~missing], target[~missing])] if (~missing).sum() > 1 else []
    if missing.any():
        correlations.append(_pearson(missing.astype(float), target))
    return _most_extreme(correlations, 0.0) if correlations else 0.0
