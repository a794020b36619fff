"""Read Parquet and CSV files in batches of rows, so any file size fits in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

from headway.errors import InvalidArgumentError

__all__ = ["count_rows", "iter_batches"]


def iter_batches(path: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    """Batches of about ``batch_rows`` rows as pandas DataFrames."""
    suffix = _suffix(path)
    if suffix == "parquet":
        # Without pre-buffering and with a bounded read buffer the reader keeps no decoded
        # data between batches, so memory stays flat however large the file is.
        reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        for batch in reader.iter_batches(batch_size=batch_rows):
            yield batch.to_pandas()
        return
    options = pv.ParseOptions(delimiter="\t" if suffix == "tsv" else ",")
    # CSV types are inferred from the first block; later blocks are cast to them.
    stream = pv.open_csv(
        path, parse_options=options, read_options=pv.ReadOptions(block_size=64 << 20)
    )
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in stream:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= batch_rows:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending).to_pandas()


def count_rows(path: Path) -> int | None:
    """Rows in a Parquet file from its footer; None for CSV (unknown until read)."""
    return pq.ParquetFile(path).metadata.num_rows if _suffix(path) == "parquet" else None


def _suffix(path: Path) -> str:
    if not path.is_file():
        raise InvalidArgumentError(f"{str(path)!r} does not exist or is not a file")
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("parquet", "pq"):
        return "parquet"
    if suffix in ("csv", "tsv"):
        return suffix
    raise InvalidArgumentError(
        f"cannot read {str(path)!r}: use a Parquet (.parquet) or CSV (.csv, .tsv) file"
    )
