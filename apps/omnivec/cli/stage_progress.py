"""One rich progress bar per stage of a long command (probe training, evaluation), on stderr."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from omnivec.cli._common import err_console

__all__ = ["StageProgress"]


class StageProgress:
    """Call it with (stage, done, total); a new stage gets a new bar."""

    def __init__(self, disable: bool) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err_console, disable=disable, transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        task = self.tasks.get(stage)
        if task is None:
            task = self.progress.add_task(stage, total=max(total, 1))
            self.tasks[stage] = task
        self.progress.update(task, completed=done, total=max(total, 1))

    def __enter__(self) -> StageProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)
