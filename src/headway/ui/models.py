"""The models pages' data: registered models, versions, aliases, gates, cards, lineage.

The lineage graph walks the ledger's lineage edges both ways from each version (datasets
a training run read, the run, batch runs that used the version and what they wrote) and
adds the deployments whose revisions served it: an edge per role in the active revision
(primary, canary, shadow, standby, fallback), a dashed one for "served before". Nodes are
laid out in columns by longest path from a source, so data flows left to right.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from headway.errors import NotFoundError
from headway.evaluate.gates import GateCheck
from headway.registry import alias_history, get_model_version, list_model_versions, list_models
from headway.registry.evaluation import gate_outcome
from headway.registry.models import GATE_TAG, MODEL_VERSION
from headway.serving.deployments import DeploymentConfig
from headway.store import deployments as deployments_repo
from headway.store import lineage
from headway.store import runs as runs_repo
from headway.store.datasets import get_dataset
from headway.store.records import AliasChange, Edge, ModelVersion
from headway.workspace import Workspace

__all__ = [
    "CARD",
    "LineageGraph",
    "ModelDetail",
    "ModelList",
    "VersionDetail",
    "lineage_graph",
    "model_detail",
    "model_list",
    "version_detail",
]

CARD = "card/model-card.html"
NODE_WIDTH, NODE_HEIGHT, COLUMN_GAP, ROW_GAP = 190, 46, 70, 16
_ROLES = ("primary", "canary", "shadow", "standby", "fallback")


@dataclass(frozen=True)
class ModelRow:
    name: str
    description: str
    latest_version: int | None
    aliases: dict[str, int]
    updated_at: int


@dataclass(frozen=True)
class ModelList:
    models: list[ModelRow]


def model_list(ws: Workspace) -> ModelList:
    return ModelList(
        [
            ModelRow(m.name, m.description, m.latest_version, dict(m.aliases), m.updated_at)
            for m in list_models(workspace=ws)
        ]
    )


@dataclass(frozen=True)
class VersionRow:
    version: int
    uri: str
    flavor: str
    created_at: int
    run_id: str | None
    aliases: list[str]
    gate: str  # blessed, not blessed, never gated
    description: str
    has_card: bool

    @classmethod
    def of(cls, v: ModelVersion) -> VersionRow:
        gate = {"true": "blessed", "false": "not blessed"}.get(
            v.tags.get(GATE_TAG, ""), "never gated"
        )
        return cls(
            v.version,
            v.uri,
            v.flavor,
            v.created_at,
            v.run_id,
            list(v.aliases),
            gate,
            v.description,
            any(f.path == CARD for f in v.files),
        )


@dataclass(frozen=True)
class Node:
    """A ledger object in the graph, placed at ``(x, y)`` (its top-left corner)."""

    key: str  # "type:id"
    type: str
    label: str
    detail: str
    href: str | None
    x: int
    y: int


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    kind: str
    active: bool
    path: str  # SVG path from the source's right edge to the target's left edge


@dataclass(frozen=True)
class LineageGraph:
    nodes: list[Node]
    links: list[Link]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


@dataclass(frozen=True)
class ModelDetail:
    name: str
    description: str
    aliases: dict[str, int]
    versions: list[VersionRow]
    alias_history: list[AliasChange]
    lineage: LineageGraph


def model_detail(ws: Workspace, name: str) -> ModelDetail:
    """Every version of ``name`` (newest first), its alias history and lineage graph."""
    versions = list_model_versions(name, workspace=ws)
    model = next(m for m in list_models(workspace=ws) if m.name == name)
    history = alias_history(name, workspace=ws)
    return ModelDetail(
        name,
        model.description,
        dict(model.aliases),
        [VersionRow.of(v) for v in reversed(versions)],
        list(reversed(history))[:50],
        lineage_graph(ws, versions),
    )


@dataclass(frozen=True)
class VersionDetail:
    """One version: identity, signature, requirements, files, gate checks, card, lineage."""

    name: str
    row: VersionRow
    signature: dict[str, Any] | None
    requirements: dict[str, Any]
    files: list[dict[str, Any]]
    tags: dict[str, str]
    gate_checks: list[GateCheck]
    lineage: LineageGraph


def version_detail(ws: Workspace, name: str, version: int) -> VersionDetail:
    v = get_model_version(name, version, workspace=ws)
    outcome = gate_outcome(v.uri, ws)
    return VersionDetail(
        name,
        VersionRow.of(v),
        v.signature,
        v.requirements,
        [f.to_dict() for f in v.files],
        dict(v.tags),
        [] if outcome is None else outcome.checks,
        lineage_graph(ws, [v]),
    )


def card_version(ws: Workspace, name: str, version: int) -> ModelVersion:
    """The version whose stored model card to show; NotFoundError when it has none."""
    v = get_model_version(name, version, workspace=ws)
    if not any(f.path == CARD for f in v.files):
        raise NotFoundError(
            f"{v.uri} has no model card yet; make one with headway.model_card({v.uri!r}) "
            "after evaluating it"
        )
    return v


# -- lineage ---------------------------------------------------------------------------


def lineage_graph(ws: Workspace, versions: list[ModelVersion]) -> LineageGraph:
    """Datasets -> runs -> these versions -> deployments (and batch runs downstream)."""
    edges: dict[tuple[str, str, str], Edge] = {}
    labels: dict[str, tuple[str, str, str, str | None]] = {}
    by_uri = {v.uri: v for v in versions}
    with ws.store.read() as conn:
        for v in versions:
            for direction in ("up", "down"):
                for e in lineage.walk(conn, (MODEL_VERSION, v.id), direction, max_depth=4):
                    edges[(f"{e.src_type}:{e.src_id}", f"{e.dst_type}:{e.dst_id}", e.kind)] = e
        keys = {k for src, dst, _ in edges for k in (src, dst)}
        keys |= {f"{MODEL_VERSION}:{v.id}" for v in versions}
        for key in keys:
            labels[key] = _label(conn, key, {v.id: v for v in versions})
        served = _served(conn, by_uri)
    links = [(src, dst, kind, True) for src, dst, kind in edges]
    roles: dict[str, list[str]] = defaultdict(list)
    for (uri, deployment), (role, active) in served.items():
        version = by_uri[uri]
        roles[deployment].append(f"v{version.version} {role}")
        links.append((f"{MODEL_VERSION}:{version.id}", f"deployment:{deployment}", role, active))
    for deployment, found in roles.items():
        href = f"/deployments/{deployment}"
        labels[f"deployment:{deployment}"] = ("deployment", deployment, ", ".join(found), href)
    return _layout(labels, links)


def _label(
    conn: Any, key: str, versions: dict[str, ModelVersion]
) -> tuple[str, str, str, str | None]:
    """(type, label, detail, link) of a ledger object."""
    kind, _, object_id = key.partition(":")
    try:
        if kind == MODEL_VERSION:
            v = versions.get(object_id)
            if v is None:
                return kind, f"version {object_id[:8]}", "model version", None
            aliases = ", ".join(v.aliases)
            detail = f"{v.flavor}" + (f" · {aliases}" if aliases else "")
            return kind, f"{v.name} v{v.version}", detail, f"/models/{v.name}/versions/{v.version}"
        if kind == "dataset":
            d = get_dataset(conn, object_id)
            return kind, d.name, f"{d.num_rows:,} rows · {d.digest[:10]}", None
        if kind == "run":
            r = runs_repo.get_run(conn, object_id)
            return kind, r.name, f"{r.experiment} · {r.status}", f"/runs/compare?run={r.id}"
    except NotFoundError:
        return kind, f"{kind} {object_id[:8]}", "deleted", None
    return kind, f"{kind} {object_id[:12]}", kind, None


def _served(conn: Any, by_uri: dict[str, ModelVersion]) -> dict[tuple[str, str], tuple[str, bool]]:
    """(version URI, deployment) -> (role in the active revision, or "served before"; active)."""
    found: dict[tuple[str, str], tuple[str, bool]] = {}
    for active in deployments_repo.list_deployments(conn):
        history = deployments_repo.revisions(conn, active.deployment)
        for revision in history:
            current = revision.number == active.number
            config = DeploymentConfig.from_dict(revision.config)
            roles = {
                config.primary: "primary",
                **dict.fromkeys(config.shadows, "shadow"),
                **({config.standby: "standby"} if config.standby else {}),
                **({config.fallback: "fallback"} if config.fallback else {}),
                **({config.canary: "canary"} if config.canary else {}),
            }
            for uri, role in roles.items():
                if uri in by_uri and (current or (uri, active.deployment) not in found):
                    found[(uri, active.deployment)] = (
                        role if current else "served before",
                        current,
                    )
    return found


def _layout(
    labels: dict[str, tuple[str, str, str, str | None]],
    links: list[tuple[str, str, str, bool]],
) -> LineageGraph:
    """Columns by longest path from a source (a cycle, if any, is cut where found)."""
    children: dict[str, list[str]] = defaultdict(list)
    for src, dst, _, _ in links:
        children[src].append(dst)
    layer = dict.fromkeys(labels, 0)
    for _ in range(len(labels)):  # relax until stable: at most one pass per node
        changed = False
        for src, dst, _, _ in links:
            if layer[dst] < layer[src] + 1 <= len(labels):
                layer[dst] = layer[src] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = defaultdict(list)
    for key in sorted(labels, key=lambda k: (labels[k][0], labels[k][1])):
        columns[layer[key]].append(key)
    tallest = max((len(k) for k in columns.values()), default=1)
    nodes, where = [], {}
    for col, keys in sorted(columns.items()):
        top = (tallest - len(keys)) * (NODE_HEIGHT + ROW_GAP) // 2  # centre short columns
        for row, key in enumerate(keys):
            kind, label, detail, href = labels[key]
            x, y = col * (NODE_WIDTH + COLUMN_GAP), top + row * (NODE_HEIGHT + ROW_GAP)
            nodes.append(Node(key, kind, label, detail, href, x, y))
            where[key] = (x, y)
    drawn = []
    for src, dst, kind, active in links:
        (x1, y1), (x2, y2) = where[src], where[dst]
        x1, y1, y2 = x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2, y2 + NODE_HEIGHT // 2
        mid = (x1 + x2) // 2
        path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
        drawn.append(Link(src, dst, kind, active, path))
    width = (max(layer.values(), default=0) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = tallest * (NODE_HEIGHT + ROW_GAP)
    return LineageGraph(nodes, drawn, max(width, NODE_WIDTH), height)
