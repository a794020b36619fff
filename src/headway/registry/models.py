"""The model registry: package a model, record its version and lineage, load it back.

A version's files are blobs in the artifact store (sha256-checked on the way back); its
flavor, signature, requirements and lineage are rows in the ledger. Aliases such as
``champion`` move atomically and keep their history.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from headway._identity import current_user
from headway.errors import FlavorError, InvalidArgumentError, ModelError, PromotionRefusedError
from headway.registry.flavors import Flavor, Trust, detect_flavor, get_flavor
from headway.registry.signature import conform, infer_signature
from headway.registry.uri import ModelRef, parse_model_uri
from headway.store import lineage, objects
from headway.store import registry as repo
from headway.store import runs as run_repo
from headway.store.artifacts import sha256_file
from headway.store.metadata import now_ms
from headway.store.records import AliasChange, ArtifactRecord, ModelVersion, RegisteredModel
from headway.tracking.run import Run, active_run
from headway.workspace import Workspace, current_workspace

__all__ = [
    "LoadedModel",
    "alias_history",
    "delete_alias",
    "get_model_version",
    "list_model_versions",
    "list_models",
    "load_model",
    "register_model",
    "set_alias",
]

MODEL_VERSION = repo.MODEL_VERSION
MANIFEST = "headway-model.json"
CHAMPION = "champion"
GATE_TAG = "gate.blessed"  # "true" or "false", set by headway.gate
GATE_ARTIFACT = "gate/outcome.json"
ATTACHMENTS = ("gate/", "evaluation/", "card/", "reference/")  # attached, not its package


def register_model(
    name: str,
    model: Any,
    run: Run | str | None = None,
    input_example: Any = None,
    description: str = "",
    tags: Mapping[str, Any] | None = None,
    flavor: str | None = None,
    reference: Any = None,
    label: str | None = "label",
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Store ``model`` as the next version of ``name`` and return that version.

    ``run`` (default: the active run) links the version to the run and to the datasets the
    run read. ``input_example`` (a few rows) gives the signature that ``predict`` checks.
    ``reference`` (the validation rows, with their ``label`` column) is profiled with the
    model's predictions and stored with the version: monitors of deployments serving it
    compare traffic with it (see :mod:`headway.registry.reference`).
    """
    _check_name(name)
    ws = workspace or current_workspace()
    chosen = get_flavor(flavor) if flavor else detect_flavor(model)
    run_id = _run_id(run if run is not None else active_run(), ws)
    signature = _signature(model, input_example)
    attached = (
        [] if reference is None else [_reference_blob(ws, name, model, signature, reference, label)]
    )
    with tempfile.TemporaryDirectory(prefix="headway-model-") as tmp:
        folder = Path(tmp)
        try:
            options = chosen.save(model, folder)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"could not save the {chosen.name} model {name!r}: {exc}") from exc
        manifest = {
            "name": name,
            "flavor": chosen.name,
            "flavor_options": options,
            "signature": signature,
            "requirements": _requirements(chosen),
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        # Blobs first: if the database write fails, unreferenced blobs are harmless.
        staged = [
            (p, p.relative_to(folder).as_posix()) for p in sorted(folder.rglob("*")) if p.is_file()
        ]
        blobs = [(rel, ws.artifacts.put_file(p)) for p, rel in staged] + attached
    with ws.store.write() as conn:
        version_id = run_repo.new_id()
        number = repo.create_version(
            conn,
            name,
            {
                "id": version_id,
                "flavor": chosen.name,
                "run_id": run_id,
                "signature": signature,
                "requirements": manifest["requirements"],
                "flavor_options": options,
                "description": description,
                "size": size,
            },
        )
        objects.add_artifacts(
            conn,
            MODEL_VERSION,
            version_id,
            [ArtifactRecord(rel, blob.sha256, blob.size, now_ms()) for rel, blob in blobs],
        )
        if tags:
            objects.set_tags(conn, MODEL_VERSION, version_id, {k: str(v) for k, v in tags.items()})
        if run_id is not None:  # the run's dataset inputs are one more hop up
            lineage.add_edge(conn, ("run", run_id), (MODEL_VERSION, version_id), "produced")
        return repo.get_version(conn, name, number)


def _reference_blob(
    ws: Workspace, name: str, model: Any, signature: Any, table: Any, label: str | None
) -> tuple[str, Any]:
    from headway.registry.reference import REFERENCE_ARTIFACT, build_reference

    ref = build_reference(model, signature, table, label, f"{name} at registration")
    return REFERENCE_ARTIFACT, ws.artifacts.put_bytes(ref.to_json().encode())


def get_model_version(
    uri_or_name: str, version: int | None = None, workspace: Workspace | None = None
) -> ModelVersion:
    """A version by URI (``models:/name@alias``) or by name and number (default: latest)."""
    ref = (
        parse_model_uri(uri_or_name)
        if uri_or_name.startswith("models:/")
        else ModelRef(uri_or_name, version)
    )
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.get_version(conn, ref.name, _resolve(conn, ref))


def _resolve(conn: Any, ref: ModelRef) -> int:
    if ref.alias:
        return repo.resolve_alias(conn, ref.name, ref.alias)
    if ref.version is not None:
        return ref.version
    latest = repo.get_model(conn, ref.name).latest_version
    if latest is None:
        raise InvalidArgumentError(f"model {ref.name!r} has no versions yet")
    return latest


def list_models(workspace: Workspace | None = None) -> list[RegisteredModel]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.list_models(conn)


def list_model_versions(name: str, workspace: Workspace | None = None) -> list[ModelVersion]:
    """Every version of ``name``, oldest first."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.list_versions(conn, name)


def set_alias(
    name: str,
    alias: str,
    version: int,
    reason: str | None = None,
    force: bool = False,
    workspace: Workspace | None = None,
) -> int | None:
    """Point ``alias`` (``champion``, ``challenger``, any name) at ``version`` atomically.

    Returns the version the alias pointed at before, if any. Every move is kept in the
    alias history. ``champion`` only goes to a version its promotion gate blessed
    (:func:`headway.gate`); ``force=True`` overrides that, and the history records it.
    """
    _check_name(alias, what="alias")
    if alias.isdigit() or alias == "latest":
        raise InvalidArgumentError(f"{alias!r} cannot be an alias: it reads as a version")
    ws = workspace or current_workspace()
    if alias == CHAMPION:
        refusal = _not_blessed(ws, name, int(version))
        if refusal and not force:
            raise PromotionRefusedError(
                f"models:/{name}/{version} cannot become {CHAMPION}: {refusal}. Evaluate it and "
                "pass its gate (headway.gate), or force the promotion (force=True, "
                "--force), which the alias history records"
            )
        if refusal:
            reason = f"FORCED past the gate ({refusal})" + (f": {reason}" if reason else "")
    with ws.store.write() as conn:
        return repo.set_alias(conn, name, alias, int(version), current_user(), reason)


def _not_blessed(ws: Workspace, name: str, version: int) -> str | None:
    """Why ``version`` may not be champion, or None when its gate blessed it."""
    found = get_model_version(name, version, workspace=ws)
    verdict = found.tags.get(GATE_TAG)
    if verdict == "true":
        return None
    if verdict is None:
        return "it was never gated"
    outcome = read_attachment(ws, found, GATE_ARTIFACT)
    if outcome is None:
        return "its gate did not bless it"
    checks = json.loads(outcome)["checks"]
    return "its gate did not bless it: " + "; ".join(c["reason"] for c in checks if not c["passed"])


def attach_text(ws: Workspace, uri: str, path: str, text: str) -> ModelVersion:
    """Store ``text`` as the file ``path`` attached to a version (replacing an older one)."""
    version = get_model_version(uri, workspace=ws)
    blob = ws.artifacts.put_bytes(text.encode("utf-8"))
    with ws.store.write() as conn:
        objects.add_artifacts(
            conn,
            MODEL_VERSION,
            version.id,
            [ArtifactRecord(path, blob.sha256, blob.size, now_ms())],
        )
    return version


def read_attachment(ws: Workspace, version: ModelVersion, path: str) -> str | None:
    """The text of a file attached to a version after registration (a gate outcome, an
    evaluation report), or None if it has none at ``path``."""
    with ws.store.read() as conn:
        records = objects.list_artifacts(conn, MODEL_VERSION, version.id)
    record = next((r for r in records if r.path == path), None)
    return None if record is None else ws.artifacts.get_bytes(record.sha256).decode("utf-8")


def delete_alias(
    name: str, alias: str, reason: str | None = None, workspace: Workspace | None = None
) -> int:
    ws = workspace or current_workspace()
    with ws.store.write() as conn:
        return repo.remove_alias(conn, name, alias, current_user(), reason)


def alias_history(
    name: str, alias: str | None = None, workspace: Workspace | None = None
) -> list[AliasChange]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.alias_changes(conn, name, alias)


class LoadedModel:
    """A registered model ready to predict on pandas, polars or pyarrow tables.

    Inputs are checked against the version's signature first, so a missing or mistyped
    column fails with a :class:`~headway.errors.SignatureError` that names it.
    """

    def __init__(self, version: ModelVersion, native: Any) -> None:
        self.version = version
        self.native = native

    @property
    def uri(self) -> str:
        return self.version.uri

    @property
    def signature(self) -> dict[str, Any] | None:
        return self.version.signature

    def predict(self, table: Any) -> Any:
        return self.native.predict(conform(table, self.signature))

    @property
    def predict_proba(self) -> Callable[[Any], Any]:
        """Class probabilities; absent (``hasattr`` is False) for models without them."""
        native = getattr(self.native, "predict_proba", None)
        if native is None:
            raise AttributeError(f"{self.uri} ({self.version.flavor}) has no predict_proba")
        return lambda table: native(conform(table, self.signature))

    def __repr__(self) -> str:
        return f"LoadedModel({self.uri!r}, flavor={self.version.flavor!r})"


def load_model(
    uri: str,
    trusted: bool = False,
    trusted_types: list[str] | None = None,
    workspace: Workspace | None = None,
) -> LoadedModel:
    """Load ``models:/name/3`` or ``models:/name@champion``, verifying every file's sha256.

    ``trusted=True`` allows flavors that execute code from the file (cloudpickle);
    ``trusted_types`` names extra classes a skops file may rebuild.
    """
    ws = workspace or current_workspace()
    version = get_model_version(uri, workspace=ws)
    flavor = get_flavor(version.flavor)
    folder = _local_copy(ws, version)
    try:
        native = flavor.load(
            folder, dict(version.flavor_options), Trust(trusted, tuple(trusted_types or ()))
        )
    except ModuleNotFoundError as exc:
        raise FlavorError(
            f"{version.uri} is a {flavor.name} model and loading it needs {exc.name!r}, which "
            f"is not installed; install the versions it was registered with: "
            f"{version.requirements.get('packages', {})}"
        ) from exc
    return LoadedModel(version, native)


def _local_copy(ws: Workspace, version: ModelVersion) -> Path:
    """The version's package files in a local folder, each verified against its sha256.

    Files attached after registration (evaluation reports, gate outcomes, model cards)
    are not part of the package and are not fetched.
    """
    folder = ws.cache_dir / "models" / version.id
    for f in version.files:
        if f.path.startswith(ATTACHMENTS):
            continue
        target = folder / f.path
        if not (target.is_file() and sha256_file(target).sha256 == f.sha256):
            ws.artifacts.get_file(f.sha256, target)
    return folder


def _signature(model: Any, example: Any) -> dict[str, Any] | None:
    if example is None:
        return None
    output = None
    predict = getattr(model, "predict", None)
    if callable(predict):
        try:
            output = predict(conform(example, None))
        except Exception:  # a signature without outputs is still useful
            output = None
    return infer_signature(example, output)


def _requirements(flavor: Flavor) -> dict[str, Any]:
    packages = {}
    for dist in ("headway", *flavor.packages, "pandas", "pyarrow"):
        try:
            packages[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "packages": packages}


def _run_id(run: Run | str | None, ws: Workspace) -> str | None:
    if run is None:
        return None
    run_id = run.id if isinstance(run, Run) else str(run)
    with ws.store.read() as conn:
        return run_repo.get_run(conn, run_id).id  # fails clearly for an unknown id


def _check_name(name: str, what: str = "model name") -> None:
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > 250
        or any(c in name for c in "/@:")
    ):
        raise InvalidArgumentError(
            f"{name!r} is not a valid {what}: use a non-empty string "
            "of at most 250 characters without '/', '@' or ':'"
        )
