"""Batch prediction: a registered model over Parquet or CSV files of any size."""

from headway.batch.predict import BatchResult, predict

__all__ = ["BatchResult", "predict"]
