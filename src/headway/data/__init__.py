"""Computation over tables: profiles, drift, splits and sampling, and generated datasets.

Pure functions and value objects: tables (pandas, polars, pyarrow) or Parquet/CSV paths
in, frozen results out; nothing here touches the ledger.
"""

from headway.data.drift import DriftReport, FeatureDrift, compare
from headway.data.profile import ColumnProfile, Profile, merge, profile
from headway.data.sample import reservoir_sample, stratified_sample, weighted_sample
from headway.data.split import SplitReport, SplitResult, split
from headway.data.synthetic import make_churn

__all__ = [
    "ColumnProfile",
    "DriftReport",
    "FeatureDrift",
    "Profile",
    "SplitReport",
    "SplitResult",
    "compare",
    "make_churn",
    "merge",
    "profile",
    "reservoir_sample",
    "split",
    "stratified_sample",
    "weighted_sample",
]
