"""Watching a pipeline run: an observer told when steps start and end, and a Rich one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from headway.pipelines._results import StepResult

__all__ = ["Observer", "observe"]


class Observer(Protocol):
    def started(self, node: str) -> None: ...

    def ended(self, result: StepResult) -> None: ...


class _Quiet:
    def started(self, node: str) -> None:
        pass

    def ended(self, result: StepResult) -> None:
        pass


@contextmanager
def observe(enabled: bool, total: int, title: str) -> Iterator[Observer]:
    """A progress bar over the steps (done of total, and which are running), on stderr."""
    if not enabled:
        yield _Quiet()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    running: dict[str, None] = {}

    with Progress(
        TextColumn("[bold]{task.fields[title]}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("", total=total, title=title)

        class Bar:
            def started(self, node: str) -> None:
                running[node] = None
                bar.update(task, description=_running(running))

            def ended(self, result: StepResult) -> None:
                running.pop(result.node, None)
                bar.update(task, advance=1, description=_running(running))

        yield Bar()


def _running(nodes: dict[str, None]) -> str:
    if not nodes:
        return ""
    shown = list(nodes)[:3]
    more = f" +{len(nodes) - 3}" if len(nodes) > 3 else ""
    return "running " + ", ".join(shown) + more
