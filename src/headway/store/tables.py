"""The ledger's tables (SQLAlchemy Core).

Timestamps are integer milliseconds since the Unix epoch, UTC: portable across SQLite and
PostgreSQL, cheap to index, and exact. Tags, artifacts and lineage edges are generic over
``(object_type, object_id)``, so later features add objects without new plumbing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(32)
KEY = String(250)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("error", Text),
    Column("user", String(250)),
    Column("git_commit", String(64)),
    Column("git_dirty", Boolean),
    Column("command", Text),
    Column("python_version", String(32)),
    Column("environment", JSON),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_start", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("value", Float),  # NULL stores NaN, which SQLite cannot hold
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("object_type", String(32), primary_key=True),
    Column("object_id", String(300), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("object_type", String(32), primary_key=True),
    Column("object_id", String(300), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("columns", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("name", "digest"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), ForeignKey("registered_models.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("run_id", ID, ForeignKey("runs.id")),
    Column("signature", JSON),
    Column("requirements", JSON, nullable=False),
    Column("flavor_options", JSON, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("name", "version"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("name", String(250), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("name", String(250), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("version", Integer),  # NULL when the alias was removed
    Column("previous_version", Integer),
    Column("changed_at", BigInteger, nullable=False),
    Column("changed_by", String(250)),
    Column("reason", Text),
    Index("ix_alias_history_name_alias", "name", "alias"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("src_type", String(32), nullable=False),
    Column("src_id", String(300), nullable=False),
    Column("dst_type", String(32), nullable=False),
    Column("dst_id", String(300), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("src_type", "src_id", "dst_type", "dst_id", "kind"),
    Index("ix_lineage_dst", "dst_type", "dst_id"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250)),
    Column("description", Text, nullable=False, default=""),
)

# A deployment's configuration over time: append-only; the highest number is active.
deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("deployment", String(250), ForeignKey("deployments.name"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("config", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250)),
    Column("reason", Text),
)

# Requests waiting for (or answered by) a human: deferred, assisted or fully manual.
review_items = Table(
    "review_items",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("deployment", String(250), ForeignKey("deployments.name"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),  # human | assist | low_confidence
    Column("inputs", JSON, nullable=False),
    Column("advice", JSON),  # the model's prediction and confidence, when it ran
    Column("status", String(16), nullable=False),  # pending | decided
    Column("decision", JSON),
    Column("decided_at", BigInteger),
    Column("decided_by", String(250)),
    Index("ix_review_items_deployment_status", "deployment", "status", "created_at"),
)

# A monitor watches one deployment over fixed windows against a stored reference.
monitors = Table(
    "monitors",
    metadata,
    Column("id", ID, primary_key=True),
    Column("deployment", String(250), ForeignKey("deployments.name"), nullable=False),
    Column("window_seconds", BigInteger, nullable=False),
    Column("reference", JSON),  # {"sha256", "source", "rows"}; NULL until traffic makes one
    Column("config", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_monitors_deployment", "deployment"),
)

# One computed window of a monitor: its profile (a blob), counts, ops stats and checks.
monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("monitor_id", ID, ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("end_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("labelled", BigInteger, nullable=False),
    Column("labels_until_ms", BigInteger, nullable=False),  # feedback read up to here
    Column("profile_sha256", String(64), nullable=False),
    Column("ops", JSON, nullable=False),
    Column("checks", JSON, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)

# A monitor's alert state machine (headway.monitoring.alerts.AlertState as JSON).
alert_states = Table(
    "alert_states",
    metadata,
    Column("monitor_id", ID, ForeignKey("monitors.id"), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Every alert event (firing, updated, reminder, resolved, acked), append-only.
alert_events = Table(
    "alert_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("monitor_id", ID, ForeignKey("monitors.id"), nullable=False),
    Column("alert_id", String(64), nullable=False),
    Column("rule", String(250), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("event", JSON, nullable=False),
    Index("ix_alert_events_monitor_at", "monitor_id", "at"),
    Index("ix_alert_events_alert", "alert_id"),
)

# One step of one pipeline run: how it ended, which run made its outputs (the cache source
# when it was reused) and the outputs themselves, found again by the step's cache key.
pipeline_steps = Table(
    "pipeline_steps",
    metadata,
    Column("pipeline_run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("node", String(250), primary_key=True),
    Column("step", String(250), nullable=False),
    Column("position", Integer, nullable=False),  # order in which the pipeline called it
    Column("upstream", JSON, nullable=False),  # nodes whose outputs it reads
    Column("status", String(16), nullable=False),  # finished | cached | failed | skipped
    Column("run_id", ID, ForeignKey("runs.id")),
    Column("cache_key", String(64), nullable=False),
    Column("outputs", JSON, nullable=False),  # [{"sha256", "size", "format"}]
    Column("attempts", Integer, nullable=False),
    Column("started_at", BigInteger),
    Column("ended_at", BigInteger),
    Column("error", Text),
    Index("ix_pipeline_steps_cache_key", "cache_key"),
)
