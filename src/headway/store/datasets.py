"""Dataset versions: a name plus a content digest, recorded once however often logged."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from headway.errors import NotFoundError
from headway.store._sql import upsert
from headway.store.metadata import now_ms
from headway.store.records import Dataset
from headway.store.runs import new_id
from headway.store.tables import datasets

__all__ = ["get_dataset", "put_dataset"]


def put_dataset(
    conn: Connection,
    name: str,
    digest: str,
    source: str,
    num_rows: int,
    columns: Sequence[dict[str, str]],
) -> Dataset:
    """The dataset version ``(name, digest)``, created if this content is new."""
    row = {
        "id": new_id(),
        "name": name,
        "digest": digest,
        "source": source,
        "num_rows": num_rows,
        "columns": list(columns),
        "created_at": now_ms(),
    }
    upsert(conn, datasets, [row], ["name", "digest"])
    found = conn.execute(
        select(datasets).where(datasets.c.name == name, datasets.c.digest == digest)
    ).one()
    return Dataset(**found._asdict())


def get_dataset(conn: Connection, dataset_id: str) -> Dataset:
    found = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
    if found is None:
        raise NotFoundError(f"no dataset with id {dataset_id!r}")
    return Dataset(**found._asdict())
