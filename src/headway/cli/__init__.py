"""The ``headway`` command: one Typer app, one module per command group."""

from __future__ import annotations

from headway.cli import (  # noqa: F401  (registers commands)
    data,
    deploy,
    evaluate,
    logs,
    models,
    monitor,
    pipeline,
    predict,
    review,
    runs,
    scheduler,
    serve,
    ui,
    workspace,
)
from headway.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    app(prog_name="headway")


if __name__ == "__main__":
    main()
