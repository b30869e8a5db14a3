"""What every CLI command shares: loading settings, printing, and turning errors into messages."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape

from omnivec.indexer.config import Settings, load_settings
from omnivec.indexer.errors import OmnivecError
from omnivec.indexer.storage import storage_fault

__all__ = [
    "EXIT_CLOSED_PIPE",
    "EXIT_FAILED_ITEMS",
    "EXIT_USAGE",
    "CliState",
    "configure_logging",
    "console",
    "err_console",
    "exit_on_closed_stdout",
    "handle_errors",
    "print_json",
]

console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2
EXIT_FAILED_ITEMS = 1
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a program stopped by a closed pipe

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """Options given before the command (``omnivec --data DIR --offline search ...``)."""

    config_file: Path | None = None
    data_dir: str | None = None  # a folder or an object-store URI (kept as text: see Settings)
    offline: bool | None = None
    server: str | None = None
    token: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                self.config_file, data_dir=self.data_dir, offline=self.offline
            )
        return self._settings


def configure_logging() -> None:
    """Warnings and errors of omnivec to stderr; libraries' chatter (download retries) hushed."""
    import logging

    level = logging.DEBUG if os.environ.get("OMNIVEC_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("huggingface_hub", "urllib3", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # open_clip logs download failures on the root logger itself; our error message says it
    # better, so records of the root logger are dropped unless debugging.
    if level > logging.DEBUG:
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda record: record.name != "root")


def handle_errors(fn: F) -> F:
    """Print omnivec errors as one line, never a traceback (set OMNIVEC_DEBUG=1 to see one)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, typer.Exit):
            raise
        except BrokenPipeError:
            exit_on_closed_stdout()
        except OmnivecError as exc:
            if os.environ.get("OMNIVEC_DEBUG"):
                raise
            # escape: messages may hold brackets ("[storage] endpoint") that are not markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last line of defence for the user
            if os.environ.get("OMNIVEC_DEBUG"):
                raise
            fault = storage_fault(exc)
            if fault is not None:
                err_console.print(f"[bold red]error:[/] {escape(str(fault))}", highlight=False, soft_wrap=True)
                sys.exit(EXIT_USAGE)
            client_error = _client_error_message(exc)
            if client_error is not None:
                err_console.print(f"[bold red]error:[/] {client_error}", highlight=False)
                sys.exit(EXIT_USAGE)
            err_console.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
                "Please report it; rerun with OMNIVEC_DEBUG=1 for the traceback.",
                highlight=False,
            )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


def exit_on_closed_stdout() -> NoReturn:
    """A reader that went away (`omnivec ... --json | head -1`) is normal in a pipeline: stop
    quietly, as other CLIs do. stdout is pointed at /dev/null first, so that the interpreter's
    final flush does not fail a second time and print "Exception ignored ... BrokenPipeError"."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(EXIT_CLOSED_PIPE)


def _client_error_message(exc: Exception) -> str | None:
    """Errors raised by the remote client carry a gRPC status; show it like a local error."""
    code = getattr(exc, "code", None)
    if code is None or not hasattr(exc, "details"):
        return None
    return f"{exc}"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
