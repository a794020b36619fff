"""Storage: the metadata store (SQLAlchemy + Alembic) and the artifact store (fsspec)."""

from headway.store.artifacts import ArtifactStore, Blob
from headway.store.metadata import MetadataStore

__all__ = ["ArtifactStore", "Blob", "MetadataStore"]
