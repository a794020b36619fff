"""The model registry: versions with flavors, signatures, requirements, lineage and aliases."""

from headway.registry.models import (
    LoadedModel,
    alias_history,
    delete_alias,
    get_model_version,
    list_model_versions,
    list_models,
    load_model,
    register_model,
    set_alias,
)
from headway.registry.uri import ModelRef, parse_model_uri

__all__ = [
    "LoadedModel",
    "ModelRef",
    "alias_history",
    "delete_alias",
    "get_model_version",
    "list_model_versions",
    "list_models",
    "load_model",
    "parse_model_uri",
    "register_model",
    "set_alias",
]
