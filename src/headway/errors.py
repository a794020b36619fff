"""Headway's exceptions: one tree, so callers know what to catch.

Every message says what was wrong (with the offending value) and what to do.

HeadwayError
├── ConfigError            bad headway.toml or HEADWAY_* setting
├── InvalidArgumentError   a caller passed a value Headway cannot use (also a ValueError)
├── NotFoundError          no such run, experiment, model, version or alias (also a LookupError)
├── StoreError             the metadata store cannot be used
│   └── StoreVersionError  the database was written by a newer Headway
├── ArtifactError          the artifact store cannot read or write a blob
│   └── ChecksumMismatchError  a blob's bytes do not match its sha256
├── PromotionRefusedError  a version that did not pass its gate cannot become champion
├── RevisionConflictError  a deployment changed while another change was being made
├── DataValidationError    data breaks its schema where that must stop the work
└── ModelError             a model cannot be packaged, loaded or called
    ├── FlavorError        no flavor fits the model, or its library is missing
    ├── UnsafeModelError   loading would execute untrusted code; pass trust explicitly
    └── SignatureError     the input does not match the model's signature (also a ValueError)
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ChecksumMismatchError",
    "ConfigError",
    "DataValidationError",
    "FlavorError",
    "HeadwayError",
    "InvalidArgumentError",
    "ModelError",
    "NotFoundError",
    "PromotionRefusedError",
    "RevisionConflictError",
    "SignatureError",
    "StoreError",
    "StoreVersionError",
    "UnsafeModelError",
]


class HeadwayError(Exception):
    """Base of every error Headway raises on purpose."""


class ConfigError(HeadwayError):
    """A setting in headway.toml or a HEADWAY_* variable is wrong."""


class InvalidArgumentError(HeadwayError, ValueError):
    """A caller passed a value Headway cannot use."""


class NotFoundError(HeadwayError, LookupError):
    """The named object is not in the ledger."""


class StoreError(HeadwayError):
    """The metadata store cannot be opened or used."""


class StoreVersionError(StoreError):
    """The database schema is newer than this version of Headway knows."""


class ArtifactError(HeadwayError):
    """The artifact store cannot read or write a blob."""


class ChecksumMismatchError(ArtifactError):
    """A blob's bytes do not hash to the sha256 it is stored under."""


class PromotionRefusedError(HeadwayError):
    """The version is not blessed by its promotion gate; pass force=True to override."""


class RevisionConflictError(HeadwayError):
    """Another writer appended a deployment revision first; read it again and retry."""


class DataValidationError(HeadwayError):
    """Data breaks its schema with error-severity anomalies (the message has the report)."""


class ModelError(HeadwayError):
    """A model cannot be packaged, loaded or called."""


class FlavorError(ModelError):
    """No flavor can package this model, or the flavor's library is not installed."""


class UnsafeModelError(ModelError):
    """Loading the model would run code from bytes that are not trusted."""


class SignatureError(ModelError, ValueError):
    """The input table does not match the model's signature."""
