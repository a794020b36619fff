"""Describe a dataset input: content digest, row count, columns and where it came from.

Files are hashed and scanned in bounded memory (Parquet row counts come from the footer;
CSV is streamed in batches); in-memory tables are hashed with a vectorised row hash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

from headway._tabular import array_digest, column_types, is_table, table_digest, to_pandas
from headway.errors import InvalidArgumentError
from headway.store.artifacts import sha256_file

__all__ = ["InputDescription", "describe_input"]


@dataclass(frozen=True)
class InputDescription:
    digest: str
    num_rows: int
    columns: list[dict[str, str]]
    source: str
    default_name: str


def describe_input(data: Any, source: str | None = None) -> InputDescription:
    if isinstance(data, str | os.PathLike):
        return _describe_file(Path(data), source)
    if is_table(data):
        df = to_pandas(data)
        return InputDescription(
            table_digest(df),
            len(df),
            column_types(df),
            source or f"in-memory {type(data).__module__.split('.')[0]} table",
            "dataset",
        )
    if isinstance(data, np.ndarray):
        columns = [{"name": "tensor", "type": f"{data.dtype}{list(data.shape[1:])}"}]
        return InputDescription(
            array_digest(data),
            int(data.shape[0]) if data.ndim else 1,
            columns,
            source or "in-memory numpy array",
            "dataset",
        )
    raise InvalidArgumentError(
        f"cannot log {type(data).__name__} as a dataset input; pass a pandas, polars or "
        "pyarrow table, a NumPy array, or the path of a Parquet or CSV file"
    )


def _describe_file(path: Path, source: str | None) -> InputDescription:
    if not path.is_file():
        raise InvalidArgumentError(f"dataset file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        meta = pq.ParquetFile(path)
        rows, schema = meta.metadata.num_rows, meta.schema_arrow
    elif suffix in {".csv", ".tsv"}:
        options = pv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        reader = pv.open_csv(path, parse_options=options)
        schema, rows = reader.schema, sum(batch.num_rows for batch in reader)
    else:
        raise InvalidArgumentError(
            f"cannot read {str(path)!r} as a dataset: use Parquet "
            "(.parquet) or CSV (.csv, .tsv), or pass a table"
        )
    empty = pa.Table.from_batches([], schema=schema).to_pandas()
    return InputDescription(
        sha256_file(path).sha256,
        int(rows),
        column_types(empty),
        source or str(path.resolve()),
        path.stem,
    )
