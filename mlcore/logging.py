"""One call that sets up readable console logs, or JSON logs for machines, on rank zero only.

Distributed jobs start one process per device; without this every message appears N times.
Processes other than rank zero keep warnings and errors, so their failures still show.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import sys
import warnings
from datetime import datetime, timezone
from typing import Literal

LogFormat = Literal["rich", "json", "plain"]

FORMAT_ENV = "MLCORE_LOG_FORMAT"
LEVEL_ENV = "MLCORE_LOG_LEVEL"
# The same variables, in the same order, that Lightning reads to find a process's global rank.
_RANK_ENVS = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
_OURS = "_mlcore_handler"
# Libraries that attach a console handler of their own when imported; their records are routed
# through ours instead, so each message appears once and in the chosen format.
LIBRARY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")

# Warnings of libraries that nothing a user does causes, and nothing a user can do fixes:
# (start of the message, category, module the warning is attributed to), all regular expressions.
LIBRARY_WARNINGS: tuple[tuple[str, str, str], ...] = (
    # MLflow's own use of deprecated SQLAlchemy and pandas APIs.
    ("", "DeprecationWarning", r"mlflow\."),
    # Lightning 2.6 asks torch 2.13's pytree in a deprecated way.
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", "FutureWarning", r"lightning\."),
    # Lightning suggests `srun python ...` wherever srun is installed; this kit runs on SLURM
    # through `make launch LAUNCHER=slurm` (sbatch), which sets what Lightning needs.
    ("The `srun` command is available on your system but is not", "UserWarning", r"lightning\."),
)
# Log lines of libraries that advertise or narrate rather than inform: (logger prefix, start).
LIBRARY_CHATTER: tuple[tuple[str, str], ...] = (
    ("lightning", "\N{ELECTRIC LIGHT BULB} Tip:"),  # litlogger / litmodels advertisements
    ("lightning.pytorch.loggers.mlflow", "Experiment with name "),  # "...not found. Creating it."
)


def global_rank() -> int:
    """The process's rank in a distributed job, 0 when it runs alone."""
    values = (os.environ.get(name, "").strip() for name in _RANK_ENVS)
    return next((int(value) for value in values if value.isdigit()), 0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, the shape log collectors (Loki, Cloud Logging, ELK) ingest."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "rank": global_rank(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(
    level: int | str | None = None,
    fmt: LogFormat | None = None,
    stream=None,
) -> logging.Handler:
    """Replace the root logger's console handler with ours and return it.

    `fmt` and `level` default to `MLCORE_LOG_FORMAT` (rich, json or plain) and `MLCORE_LOG_LEVEL`
    (INFO); without a format, a terminal gets rich and anything else (CI logs, files) plain lines.
    File handlers, such as the one Hydra adds for each run, are kept.
    Calling it again replaces the handler rather than adding a second one. Call it after importing
    Lightning: importing it adds a console handler of its own, which this removes.
    """
    stream = stream or sys.stderr
    terminal = getattr(stream, "isatty", lambda: False)()
    fmt = fmt or os.environ.get(FORMAT_ENV, "").strip().lower() or ("rich" if terminal else "plain")  # type: ignore[assignment]
    if fmt not in ("rich", "json", "plain"):
        raise ValueError(f"log format must be rich, json or plain, not {fmt!r} (set {FORMAT_ENV})")
    level = _resolve_level(level)
    if global_rank() != 0:
        level = max(level, logging.WARNING)

    handler = _make_handler(fmt, stream)
    handler.addFilter(_drop_chatter)
    quiet_library_warnings()
    # The level sits on the handler too: records of loggers with a level of their own (Lightning
    # sets INFO on its loggers) skip the root logger's level on their way to its handlers.
    handler.setLevel(level)
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        is_console = type(old) is logging.StreamHandler or getattr(old, _OURS, False)
        if is_console or type(old).__name__ == "RichHandler":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        if name in sys.modules:
            library = logging.getLogger(name)
            for old in list(library.handlers):
                library.removeHandler(old)
            library.propagate = True
    return handler


def quiet_library_warnings() -> None:
    """Ignore LIBRARY_WARNINGS (setup_logging does this; tests use pytest_warning_filters)."""
    for message, category, module in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message, getattr(builtins, category), module)


def pytest_warning_filters() -> list[str]:
    """LIBRARY_WARNINGS as pytest `filterwarnings` lines, for a project's conftest.py."""
    return [
        f"ignore:{message}:{category}:{module}" for message, category, module in LIBRARY_WARNINGS
    ]


def _drop_chatter(record: logging.LogRecord) -> bool:
    """False for a LIBRARY_CHATTER record: the handler then leaves it out."""
    return not any(
        record.name.startswith(prefix) and str(record.msg).startswith(start)
        for prefix, start in LIBRARY_CHATTER
    )


def _resolve_level(level: int | str | None) -> int:
    """A numeric level from an int, a name, or MLCORE_LOG_LEVEL; a clear error for anything else."""
    source = f" (from {LEVEL_ENV})" if level is None and os.environ.get(LEVEL_ENV) else ""
    given = level if level is not None else os.environ.get(LEVEL_ENV, "INFO")
    if isinstance(given, int):
        return given
    number = logging.getLevelName(given.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {given!r}{source}: use DEBUG, INFO, WARNING or ERROR")
    return number


def _make_handler(fmt: LogFormat, stream) -> logging.Handler:
    if fmt == "rich":
        from rich.console import Console
        from rich.logging import RichHandler

        return RichHandler(console=Console(file=stream), rich_tracebacks=True, show_path=False)
    handler = logging.StreamHandler(stream)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if fmt == "json" else plain)
    return handler
