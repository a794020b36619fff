"""What a pipeline raises: one branch of Headway's error tree.

HeadwayError
└── PipelineError        a pipeline cannot be built, loaded or run
    └── StepFailedError  a step raised (after its retries); ``.result`` has every step
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headway.errors import HeadwayError

if TYPE_CHECKING:
    from headway.pipelines._results import PipelineResult

__all__ = ["PipelineError", "StepFailedError"]


class PipelineError(HeadwayError):
    """A pipeline cannot be built, loaded or run as asked."""


class StepFailedError(PipelineError):
    """A step failed after its retries; the run can be resumed from it."""

    def __init__(self, message: str, result: PipelineResult) -> None:
        super().__init__(message)
        self.result = result
