"""Model URIs: ``models:/name/3``, ``models:/name@champion``, ``models:/name/latest``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from headway.errors import InvalidArgumentError

__all__ = ["ModelRef", "parse_model_uri"]

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+|latest)|@(?P<alias>[^/@]+))$")


@dataclass(frozen=True)
class ModelRef:
    """A reference to one model version: by number, by alias, or the latest."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.version or 'latest'}"


def parse_model_uri(uri: str) -> ModelRef:
    match = _URI.match(uri.strip()) if isinstance(uri, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"{uri!r} is not a model URI; use models:/NAME/VERSION, models:/NAME@ALIAS or "
            "models:/NAME/latest"
        )
    version = match["version"]
    return ModelRef(
        match["name"], int(version) if version and version != "latest" else None, match["alias"]
    )
