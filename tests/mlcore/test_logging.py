"""setup_logging: formats, levels, rank-zero filtering and which handlers it replaces or keeps."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import types
from datetime import datetime
from pathlib import Path

import pytest

import mlcore.logging as mlog
from mlcore.logging import JsonFormatter, global_rank, setup_logging

pytestmark = pytest.mark.usefixtures("clean_logging")

RANK_ENVS = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def ours(root: logging.Logger | None = None) -> list[logging.Handler]:
    """The handlers setup_logging attached to the root logger."""
    root = root or logging.getLogger()
    return [handler for handler in root.handlers if getattr(handler, "_mlcore_handler", False)]


def json_lines(stream: io.StringIO) -> list[dict]:
    """Every line written to stream, parsed as JSON."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_level_logger_message_and_rank() -> None:
    """Each record is one JSON object with the fields log collectors index."""
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    logging.getLogger("mlcore.test").info("loaded %d rows from %s", 3, "train.csv")
    logging.getLogger("other.lib").warning("careful")

    first, second = json_lines(stream)
    assert first["level"] == "INFO"
    assert first["logger"] == "mlcore.test"
    assert first["message"] == "loaded 3 rows from train.csv"
    assert first["rank"] == 0
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None  # timezone-aware
    assert second["level"] == "WARNING"
    assert second["logger"] == "other.lib"
    assert set(first) == {"time", "level", "logger", "message", "rank"}


def test_json_includes_exception_traceback() -> None:
    """log.exception adds the formatted traceback under `exception`."""
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("mlcore.test").exception("step failed")
    (entry,) = json_lines(stream)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "step failed"
    assert "Traceback" in entry["exception"]
    assert "ZeroDivisionError" in entry["exception"]


def test_json_formatter_serialises_non_json_arguments() -> None:
    """Messages built from arbitrary objects still give valid JSON."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "path %s", (Path("/a/b"),), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "path /a/b"


@pytest.mark.parametrize("env", RANK_ENVS)
def test_other_ranks_keep_only_warnings(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    """On a rank other than zero, INFO is dropped and WARNING kept, with the rank in each line."""
    monkeypatch.setenv(env, "2")
    stream = io.StringIO()
    setup_logging(level="INFO", fmt="json", stream=stream)
    log = logging.getLogger("mlcore.test")
    log.info("progress")
    log.warning("disk almost full")
    log.error("out of memory")

    entries = json_lines(stream)
    assert [entry["message"] for entry in entries] == ["disk almost full", "out of memory"]
    assert {entry["rank"] for entry in entries} == {2}
    assert logging.getLogger().level == logging.WARNING


def test_rank_zero_keeps_info(monkeypatch: pytest.MonkeyPatch) -> None:
    """RANK=0 is the main process: INFO goes through."""
    monkeypatch.setenv("RANK", "0")
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    logging.getLogger("mlcore.test").info("hello")
    assert [entry["message"] for entry in json_lines(stream)] == ["hello"]


def test_other_ranks_keep_a_stricter_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank filtering raises the level to WARNING, never lowers a stricter one."""
    monkeypatch.setenv("LOCAL_RANK", "1")
    setup_logging(level="ERROR", fmt="plain", stream=io.StringIO())
    assert logging.getLogger().level == logging.ERROR


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 0),
        ({"RANK": "3"}, 3),
        ({"RANK": " 4 "}, 4),
        ({"RANK": "3", "LOCAL_RANK": "1"}, 3),  # RANK wins, as in Lightning
        ({"LOCAL_RANK": "1", "SLURM_PROCID": "5"}, 1),
        ({"SLURM_PROCID": "5"}, 5),
        ({"JSM_NAMESPACE_RANK": "6"}, 6),
        ({"RANK": "", "SLURM_PROCID": "2"}, 2),  # empty or garbage values are skipped
        ({"RANK": "abc"}, 0),
        ({"RANK": "-1"}, 0),
    ],
)
def test_global_rank(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: int) -> None:
    """The rank comes from the first variable that holds a non-negative integer."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert global_rank() == expected


def test_second_call_replaces_our_handler() -> None:
    """Calling setup_logging twice leaves one handler of ours: the second one."""
    first_stream, second_stream = io.StringIO(), io.StringIO()
    first = setup_logging(fmt="plain", stream=first_stream)
    second = setup_logging(fmt="json", stream=second_stream)

    assert ours() == [second]
    assert first not in logging.getLogger().handlers
    logging.getLogger("mlcore.test").warning("once")
    assert first_stream.getvalue() == ""
    assert [entry["message"] for entry in json_lines(second_stream)] == ["once"]


def test_replaces_console_handlers_and_keeps_file_handlers(tmp_path: Path) -> None:
    """A plain StreamHandler and a RichHandler go; a FileHandler (as Hydra adds) stays and logs."""
    from rich.logging import RichHandler

    root = logging.getLogger()
    console = logging.StreamHandler(io.StringIO())
    rich_console = RichHandler()
    log_file = tmp_path / "run.log"
    file_handler = logging.FileHandler(log_file)
    for handler in (console, rich_console, file_handler):
        root.addHandler(handler)
    try:
        handler = setup_logging(fmt="plain", stream=io.StringIO())
        assert console not in root.handlers
        assert rich_console not in root.handlers
        assert file_handler in root.handlers
        assert handler in root.handlers

        logging.getLogger("mlcore.test").info("written to the file too")
        file_handler.flush()
        assert "written to the file too" in log_file.read_text()
        assert "written to the file too" not in console.stream.getvalue()
    finally:
        root.removeHandler(file_handler)
        file_handler.close()


def test_keeps_stream_handler_subclasses() -> None:
    """Only exact console handlers are replaced; subclasses (other tools' handlers) are kept."""

    class Capture(logging.StreamHandler):
        pass

    root = logging.getLogger()
    capture = Capture(io.StringIO())
    root.addHandler(capture)
    setup_logging(fmt="plain", stream=io.StringIO())
    assert capture in root.handlers
    logging.getLogger("mlcore.test").warning("seen by both")
    assert "seen by both" in capture.stream.getvalue()


@pytest.mark.parametrize("source", ["argument", "env"])
def test_invalid_format_says_what_to_set(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """An unknown format names the valid ones and the variable that sets it."""
    kwargs = {"fmt": "xml"} if source == "argument" else {}
    if source == "env":
        monkeypatch.setenv("MLCORE_LOG_FORMAT", "xml")
    with pytest.raises(
        ValueError, match=r"rich, json or plain, not 'xml' \(set MLCORE_LOG_FORMAT\)"
    ):
        setup_logging(stream=io.StringIO(), **kwargs)
    assert ours() == []  # nothing was installed


@pytest.mark.parametrize("source", ["argument", "env"])
def test_invalid_level_says_what_to_use(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """An unknown level names the valid ones."""
    kwargs = {"level": "LOUD"} if source == "argument" else {}
    if source == "env":
        monkeypatch.setenv("MLCORE_LOG_LEVEL", "LOUD")
    with pytest.raises(
        ValueError, match=r"unknown log level .*LOUD.*DEBUG, INFO, WARNING or ERROR"
    ):
        setup_logging(fmt="plain", stream=io.StringIO(), **kwargs)
    assert ours() == []


def test_invalid_level_message_quotes_the_given_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error quotes the level as the user wrote it and names the variable that set it."""
    monkeypatch.setenv("MLCORE_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match=r"unknown log level 'LOUD'.*MLCORE_LOG_LEVEL"):
        setup_logging(fmt="plain", stream=io.StringIO())


def test_level_from_env_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLCORE_LOG_LEVEL is read case-insensitively; an explicit level wins; ints are accepted."""
    monkeypatch.setenv("MLCORE_LOG_LEVEL", "debug")
    setup_logging(fmt="plain", stream=io.StringIO())
    assert logging.getLogger().level == logging.DEBUG
    setup_logging(level="warning", fmt="plain", stream=io.StringIO())
    assert logging.getLogger().level == logging.WARNING
    setup_logging(level=logging.ERROR, fmt="plain", stream=io.StringIO())
    assert logging.getLogger().level == logging.ERROR


def test_default_level_is_info() -> None:
    """Without argument or env var, INFO shows and DEBUG does not."""
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    assert logging.getLogger().level == logging.INFO
    log = logging.getLogger("mlcore.test")
    log.debug("hidden")
    log.info("shown")
    assert [entry["message"] for entry in json_lines(stream)] == ["shown"]


def test_non_terminal_stream_defaults_to_plain() -> None:
    """Off a terminal (CI, files) the lines are plain: time, level, logger, message."""
    stream = io.StringIO()
    handler = setup_logging(stream=stream)
    assert type(handler) is logging.StreamHandler
    logging.getLogger("mlcore.test").info("plain line")
    line = stream.getvalue().rstrip("\n")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO mlcore\.test: plain line", line)


def test_terminal_stream_defaults_to_rich() -> None:
    """On a terminal the handler is Rich's, writing to the given stream."""
    from rich.logging import RichHandler

    stream = Terminal()
    handler = setup_logging(stream=stream)
    assert isinstance(handler, RichHandler)
    logging.getLogger("mlcore.test").info("rich line")
    assert "rich line" in stream.getvalue()
    assert ours() == [handler]


def test_format_env_and_explicit_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLCORE_LOG_FORMAT picks the format (even on a terminal); an explicit fmt wins over it."""
    monkeypatch.setenv("MLCORE_LOG_FORMAT", "json")
    stream = Terminal()
    setup_logging(stream=stream)
    logging.getLogger("mlcore.test").info("as json")
    assert json_lines(stream)[0]["message"] == "as json"

    stream = io.StringIO()
    setup_logging(fmt="plain", stream=stream)
    logging.getLogger("mlcore.test").info("as plain")
    assert stream.getvalue().rstrip().endswith("INFO mlcore.test: as plain")


def test_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a stream, records go to standard error."""
    handler = setup_logging(fmt="plain")
    assert handler.stream is sys.stderr
    logging.getLogger("mlcore.test").warning("to stderr")
    captured = capsys.readouterr()
    assert "to stderr" in captured.err
    assert "to stderr" not in captured.out


def test_lightning_console_handler_is_removed() -> None:
    """Lightning's own console handler goes and its records come through ours, once."""
    import lightning.pytorch  # noqa: F401  (the import is what makes its loggers eligible)

    lightning_log = logging.getLogger("lightning.pytorch")
    # What `import lightning` does when the root logger has no handler yet.
    own = io.StringIO()
    lightning_log.addHandler(logging.StreamHandler(own))
    lightning_log.propagate = False

    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    assert lightning_log.handlers == []
    assert lightning_log.propagate is True
    logging.getLogger("lightning.pytorch.trainer").warning("GPU available: False")
    assert own.getvalue() == ""
    assert [(entry["logger"], entry["message"]) for entry in json_lines(stream)] == [
        ("lightning.pytorch.trainer", "GPU available: False")
    ]


def test_libraries_not_imported_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loggers of libraries that are imported are rewired."""
    monkeypatch.setattr(mlog, "LIBRARY_LOGGERS", ("mlcore_fake_lib", "mlcore_fake_imported"))
    monkeypatch.setitem(sys.modules, "mlcore_fake_imported", types.ModuleType("x"))
    absent, present = (logging.getLogger(name) for name in mlog.LIBRARY_LOGGERS)
    absent_handler, present_handler = logging.NullHandler(), logging.NullHandler()
    try:
        absent.addHandler(absent_handler)
        absent.propagate = False
        present.addHandler(present_handler)
        present.propagate = False
        setup_logging(fmt="plain", stream=io.StringIO())
        assert absent.handlers == [absent_handler]
        assert absent.propagate is False
        assert present.handlers == []
        assert present.propagate is True
    finally:
        for lib in (absent, present):
            lib.handlers.clear()
            lib.propagate = True


@pytest.mark.parametrize("env", [{"RANK": "1"}, {"MLCORE_LOG_LEVEL": "WARNING"}])
def test_lightning_info_is_filtered_too(monkeypatch: pytest.MonkeyPatch, env: dict) -> None:
    """The chosen level and the rank filter also apply to Lightning's records."""
    import lightning.pytorch  # noqa: F401

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if logging.getLogger("lightning.pytorch").level != logging.INFO:  # what Lightning sets
        pytest.fail("precondition: importing Lightning sets `lightning.pytorch` to INFO")
    stream = io.StringIO()
    setup_logging(fmt="json", stream=stream)
    logging.getLogger("lightning.pytorch.trainer").info("GPU available: False")
    assert stream.getvalue() == ""
