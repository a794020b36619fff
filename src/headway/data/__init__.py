"""Computation over tables: profiles, schemas, validation, drift, splits and sampling.

Pure functions and value objects: tables (pandas, polars, pyarrow) or Parquet/CSV paths
in, frozen results out; nothing here touches the ledger.
"""

from headway.data import expectations
from headway.data.drift import DriftReport, FeatureDrift, compare
from headway.data.expectations import Anomaly
from headway.data.profile import ColumnProfile, Profile, merge, profile
from headway.data.sample import reservoir_sample, stratified_sample, weighted_sample
from headway.data.schema import ColumnSchema, Relation, Schema, infer_schema
from headway.data.split import SplitReport, SplitResult, split
from headway.data.synthetic import make_churn, make_churn_stream
from headway.data.validate import ValidationReport, validate

__all__ = [
    "Anomaly",
    "ColumnProfile",
    "ColumnSchema",
    "DriftReport",
    "FeatureDrift",
    "Profile",
    "Relation",
    "Schema",
    "SplitReport",
    "SplitResult",
    "ValidationReport",
    "compare",
    "expectations",
    "infer_schema",
    "make_churn",
    "make_churn_stream",
    "merge",
    "profile",
    "reservoir_sample",
    "split",
    "stratified_sample",
    "validate",
    "weighted_sample",
]
