"""What a pipeline run produced: its steps, their stored outputs, and the output value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Artifact", "PipelineResult", "StepResult"]

# A step's status: it ran and succeeded, its outputs were reused from an earlier run, it
# failed after its retries, or it did not run because a step it needs did not succeed.
FINISHED, CACHED, FAILED, SKIPPED = "finished", "cached", "failed", "skipped"


@dataclass(frozen=True)
class Artifact:
    """One stored step output: a blob in the artifact store and the format of its bytes."""

    sha256: str
    size: int
    format: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Artifact:
        return cls(str(data["sha256"]), int(data["size"]), str(data["format"]))


@dataclass(frozen=True)
class StepResult:
    """One step of a pipeline run.

    ``run_id`` is the tracked run that produced the outputs: this step's own run, or for
    a ``cached`` step the earlier run whose outputs were reused.
    """

    node: str  # unique in the pipeline: the step's name, then name-2, name-3 for repeats
    step: str
    status: str  # finished | cached | failed | skipped
    run_id: str | None
    seconds: float
    attempts: int
    cache_key: str
    upstream: tuple[str, ...] = ()
    outputs: tuple[Artifact, ...] = ()
    error: str | None = None

    @property
    def cached(self) -> bool:
        return self.status == CACHED

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cached": self.cached}


@dataclass(frozen=True)
class PipelineResult:
    """A pipeline run: its tracked run, each step (in call order) and the returned value."""

    pipeline: str
    run_id: str
    status: str  # finished | failed
    executor: str
    seconds: float
    steps: dict[str, StepResult] = field(default_factory=dict)
    output: Any = None
    resumed_from: str | None = None

    @property
    def cached(self) -> list[str]:
        """The nodes whose outputs were reused rather than computed."""
        return [s.node for s in self.steps.values() if s.cached]
