"""Computation over tables: generated datasets now; profiles, schemas, validation, drift and
splits as they land."""

from headway.data.synthetic import make_churn

__all__ = ["make_churn"]
