"""Registered models, their versions and aliases in the ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from headway.errors import NotFoundError
from headway.store._sql import upsert
from headway.store.metadata import now_ms
from headway.store.objects import get_tags, list_artifacts
from headway.store.records import AliasChange, ModelVersion, RegisteredModel
from headway.store.tables import alias_history, aliases, model_versions, registered_models

__all__ = [
    "alias_changes",
    "create_version",
    "get_model",
    "get_version",
    "list_models",
    "list_versions",
    "remove_alias",
    "resolve_alias",
    "set_alias",
]

MODEL_VERSION = "model_version"


def create_version(conn: Connection, name: str, values: dict[str, Any]) -> int:
    """Insert the next version of ``name`` (creating the model), returning its number.

    The registered model's row is locked first, so concurrent registrations of one name
    get consecutive numbers instead of colliding.
    """
    now = now_ms()
    upsert(
        conn,
        registered_models,
        [{"name": name, "description": "", "created_at": now, "updated_at": now}],
        ["name"],
        update=["updated_at"],
    )
    conn.execute(
        select(registered_models.c.name).where(registered_models.c.name == name).with_for_update()
    )
    latest = conn.execute(
        select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
    ).scalar_one()
    version = (latest or 0) + 1
    conn.execute(
        model_versions.insert().values(name=name, version=version, created_at=now, **values)
    )
    return version


def _model_not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"no registered model named {name!r}; `headway models list` shows the registered models"
    )


def get_model(conn: Connection, name: str) -> RegisteredModel:
    row = conn.execute(select(registered_models).where(registered_models.c.name == name)).first()
    if row is None:
        raise _model_not_found(name)
    latest = conn.execute(
        select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
    ).scalar_one()
    found = conn.execute(
        select(aliases.c.alias, aliases.c.version)
        .where(aliases.c.name == name)
        .order_by(aliases.c.alias)
    )
    return RegisteredModel(**row._asdict(), latest_version=latest, aliases=dict(found.all()))


def list_models(conn: Connection) -> list[RegisteredModel]:
    names = (
        conn.execute(select(registered_models.c.name).order_by(registered_models.c.name))
        .scalars()
        .all()
    )
    return [get_model(conn, n) for n in names]


def get_version(conn: Connection, name: str, version: int) -> ModelVersion:
    row = conn.execute(
        select(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
    ).first()
    if row is None:
        get_model(conn, name)  # a clearer error when the model itself is unknown
        raise NotFoundError(
            f"model {name!r} has no version {version}; "
            f"`headway models show {name}` lists its versions"
        )
    names = conn.execute(
        select(aliases.c.alias)
        .where(aliases.c.name == name, aliases.c.version == version)
        .order_by(aliases.c.alias)
    )
    return ModelVersion(
        **row._asdict(),
        files=list_artifacts(conn, MODEL_VERSION, row.id),
        aliases=list(names.scalars()),
        tags=get_tags(conn, MODEL_VERSION, row.id),
    )


def list_versions(conn: Connection, name: str) -> list[ModelVersion]:
    get_model(conn, name)
    numbers = (
        conn.execute(
            select(model_versions.c.version)
            .where(model_versions.c.name == name)
            .order_by(model_versions.c.version)
        )
        .scalars()
        .all()
    )
    return [get_version(conn, name, v) for v in numbers]


def resolve_alias(conn: Connection, name: str, alias: str) -> int:
    version = conn.execute(
        select(aliases.c.version).where(aliases.c.name == name, aliases.c.alias == alias)
    ).scalar_one_or_none()
    if version is None:
        model = get_model(conn, name)
        known = ", ".join(model.aliases) or "none"
        raise NotFoundError(
            f"model {name!r} has no alias {alias!r} (its aliases: {known}); "
            f"set one with `headway models alias {name} {alias} VERSION`"
        )
    return int(version)


def set_alias(
    conn: Connection,
    name: str,
    alias: str,
    version: int,
    changed_by: str | None,
    reason: str | None = None,
) -> int | None:
    """Point ``alias`` at ``version``; returns the version it pointed at before."""
    get_version(conn, name, version)
    previous = conn.execute(
        select(aliases.c.version)
        .where(aliases.c.name == name, aliases.c.alias == alias)
        .with_for_update()
    ).scalar_one_or_none()
    now = now_ms()
    upsert(
        conn,
        aliases,
        [{"name": name, "alias": alias, "version": version, "updated_at": now}],
        ["name", "alias"],
        update=["version", "updated_at"],
    )
    _record_change(conn, name, alias, version, previous, changed_by, reason)
    conn.execute(
        update(registered_models).where(registered_models.c.name == name).values(updated_at=now)
    )
    return None if previous is None else int(previous)


def remove_alias(
    conn: Connection, name: str, alias: str, changed_by: str | None, reason: str | None = None
) -> int:
    previous = resolve_alias(conn, name, alias)
    conn.execute(delete(aliases).where(aliases.c.name == name, aliases.c.alias == alias))
    _record_change(conn, name, alias, None, previous, changed_by, reason)
    return previous


def _record_change(
    conn: Connection,
    name: str,
    alias: str,
    version: int | None,
    previous: int | None,
    changed_by: str | None,
    reason: str | None,
) -> None:
    conn.execute(
        alias_history.insert().values(
            name=name,
            alias=alias,
            version=version,
            previous_version=previous,
            changed_at=now_ms(),
            changed_by=changed_by,
            reason=reason,
        )
    )


def alias_changes(conn: Connection, name: str, alias: str | None = None) -> list[AliasChange]:
    h = alias_history
    query = (
        select(
            h.c.name,
            h.c.alias,
            h.c.version,
            h.c.previous_version,
            h.c.changed_at,
            h.c.changed_by,
            h.c.reason,
        )
        .where(h.c.name == name)
        .order_by(h.c.id)
    )
    if alias is not None:
        query = query.where(h.c.alias == alias)
    return [AliasChange(*row) for row in conn.execute(query)]
