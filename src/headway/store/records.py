"""Value objects read from the ledger: frozen, JSON-friendly, free of database handles."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "AliasChange",
    "ArtifactRecord",
    "Dataset",
    "Edge",
    "Experiment",
    "Metric",
    "ModelVersion",
    "RegisteredModel",
    "ReviewItem",
    "Revision",
    "RunRecord",
]


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Experiment(_Record):
    id: str
    name: str
    created_at: int


@dataclass(frozen=True)
class Metric(_Record):
    key: str
    value: float
    step: int
    timestamp: int

    @classmethod
    def from_row(cls, key: str, value: float | None, step: int, timestamp: int) -> Metric:
        return cls(key, math.nan if value is None else float(value), int(step), int(timestamp))


@dataclass(frozen=True)
class RunRecord(_Record):
    """A run as stored: identity, status, timing, environment, and what it logged."""

    id: str
    experiment: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    error: str | None = None
    user: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    command: str | None = None
    python_version: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)  # latest point per key
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True)
class ArtifactRecord(_Record):
    path: str
    sha256: str
    size: int
    created_at: int


@dataclass(frozen=True)
class Dataset(_Record):
    """A dataset version: a name plus the digest of its content."""

    id: str
    name: str
    digest: str
    source: str
    num_rows: int
    columns: list[dict[str, str]]
    created_at: int


@dataclass(frozen=True)
class RegisteredModel(_Record):
    name: str
    description: str
    created_at: int
    updated_at: int
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion(_Record):
    """One registered version of a model and everything needed to load it again."""

    id: str
    name: str
    version: int
    flavor: str
    run_id: str | None
    signature: dict[str, Any] | None
    requirements: dict[str, Any]
    flavor_options: dict[str, Any]
    description: str
    size: int
    created_at: int
    files: list[ArtifactRecord] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class AliasChange(_Record):
    name: str
    alias: str
    version: int | None
    previous_version: int | None
    changed_at: int
    changed_by: str | None
    reason: str | None


@dataclass(frozen=True)
class Edge(_Record):
    """A typed lineage edge: ``src`` --kind--> ``dst``."""

    src_type: str
    src_id: str
    dst_type: str
    dst_id: str
    kind: str
    created_at: int


@dataclass(frozen=True)
class Revision(_Record):
    """One revision of a deployment: its whole configuration, who changed it and why."""

    deployment: str
    number: int
    config: dict[str, Any]
    created_at: int
    created_by: str | None
    reason: str | None


@dataclass(frozen=True)
class ReviewItem(_Record):
    """A request in the review queue, with the model's advice and the human's decision."""

    request_id: str
    deployment: str
    revision: int
    created_at: int
    reason: str
    inputs: dict[str, Any]
    advice: dict[str, Any] | None
    status: str
    decision: dict[str, Any] | None
    decided_at: int | None
    decided_by: str | None
