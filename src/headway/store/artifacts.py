"""The artifact store: content-addressed blobs over fsspec.

A blob lives at ``<root>/blobs/sha256/<ab>/<abcdef...>``, named by the sha256 of its bytes,
so identical content is stored once and every read can prove it got what was written.
Writes go to a temporary name first and are renamed into place (local folders), or are
single atomic puts (object stores), so a crash never leaves a half-written blob behind a
valid name.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from headway.errors import ArtifactError, ChecksumMismatchError, InvalidArgumentError

__all__ = ["ArtifactStore", "Blob", "sha256_file"]

CHUNK = 1 << 20


@dataclass(frozen=True)
class Blob:
    """A stored blob: its content hash and size in bytes."""

    sha256: str
    size: int


def sha256_file(path: str | os.PathLike[str]) -> Blob:
    """Hash a local file in chunks (bounded memory)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Blob(digest.hexdigest(), size)


class ArtifactStore:
    """Blobs by sha256 under a local folder or any fsspec URL (``s3://bucket/prefix``)."""

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.root = root
        try:
            self.fs, self._base = fsspec.core.url_to_fs(root, **dict(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ArtifactError(
                f"cannot open the artifact store at {root!r}: {exc}; for s3:// URLs install "
                "'headway[s3]', and check [artifacts] root / HEADWAY_ARTIFACT_ROOT"
            ) from exc
        self._local = isinstance(self.fs, LocalFileSystem)
        if self._local:
            self.fs.makedirs(self._base, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    def _key(self, sha256: str) -> str:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise InvalidArgumentError(f"{sha256!r} is not a sha256 hex digest (64 hex digits)")
        return f"{self._base}/blobs/sha256/{sha256[:2]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._key(sha256)))

    def put_file(self, path: str | os.PathLike[str]) -> Blob:
        """Store a local file's bytes; a blob already present is not written again."""
        if not Path(path).is_file():
            raise InvalidArgumentError(f"{str(path)!r} is not a file; pass an existing file path")
        blob = sha256_file(path)
        self._put(blob.sha256, lambda key: self.fs.put_file(os.fspath(path), key))
        return blob

    def put_bytes(self, data: bytes) -> Blob:
        """Store bytes held in memory."""
        blob = Blob(hashlib.sha256(data).hexdigest(), len(data))
        self._put(blob.sha256, lambda key: self.fs.pipe_file(key, data))
        return blob

    def _put(self, sha256: str, write: Callable[[str], object]) -> None:
        key = self._key(sha256)
        if self.fs.exists(key):
            return
        try:
            if self._local:
                self.fs.makedirs(os.path.dirname(key), exist_ok=True)
                tmp = f"{key}.{uuid.uuid4().hex}.tmp"
                write(tmp)
                os.replace(tmp, key)
            else:
                write(key)
        except OSError as exc:
            raise ArtifactError(
                f"cannot write blob {sha256} to {self.root!r}: {exc}; "
                "check the artifact root exists and is writable"
            ) from exc

    def get_bytes(self, sha256: str) -> bytes:
        """Read a blob into memory, verifying its sha256."""
        with self._open(sha256) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise self._mismatch(sha256)
        return data

    def get_file(self, sha256: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a blob to a local file, verifying its sha256 before the file appears."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        digest = hashlib.sha256()
        try:
            with self._open(sha256) as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise self._mismatch(sha256)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def _open(self, sha256: str) -> IO[bytes]:
        key = self._key(sha256)
        try:
            return self.fs.open(key, "rb")
        except FileNotFoundError:
            raise ArtifactError(
                f"blob {sha256} is missing from the artifact store {self.root!r}; it was "
                "deleted or the store points elsewhere (check HEADWAY_ARTIFACT_ROOT)"
            ) from None

    def _mismatch(self, sha256: str) -> ChecksumMismatchError:
        return ChecksumMismatchError(
            f"blob {sha256} in {self.root!r} is corrupt: its bytes no longer hash to its "
            "sha256; restore it from a backup or re-log the artifact"
        )
