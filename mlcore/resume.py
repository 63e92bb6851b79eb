"""`resume=auto`: a restarted training run continues itself.

Why: a launcher restarts a run (torchrun's `--max-restarts`, a requeued SLURM job, a restarted
pod) in the same run directory (`MLCORE_RUN_NAME`). There `resume(cfg)` finds the interrupted
attempt's record `.mlcore/run.yaml` (written by `RunRecord.started`) and continues with its
recorded config (unresolved, so `T_max: ${trainer.max_epochs}` follows an extension; today's
`key=value` overrides on top, another config-group option refused), its MLflow run and its newest
`*.ckpt` (`last.ckpt`, `interrupted.ckpt`, SLURM's `hpc_ckpt_N.ckpt`). A finished run starts
afresh. Without `resume` nothing here happens; `ckpt_path=` still resumes a given checkpoint.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger("mlcore.resume")

RECORD = Path(".mlcore") / "run.yaml"
MODES = ("auto",)


class ResumeError(ValueError):
    """The run cannot resume as asked; the message says what to do instead."""


@dataclass(frozen=True)
class Resumption:
    """What a run starts from: its config, the checkpoint to resume and the MLflow run."""

    cfg: DictConfig
    ckpt_path: str | None = None
    mlflow_run_id: str | None = None
    attempt: int = 1


def resume(cfg: DictConfig) -> Resumption:
    """The config, checkpoint and MLflow run this run continues (see the module's docstring)."""
    mode = cfg.get("resume")
    given = cfg.get("ckpt_path") or None
    if not mode:
        return Resumption(cfg, given)
    if mode not in MODES:
        raise ResumeError(
            f"resume={mode!r}: use resume=auto (continue this run directory's interrupted run) "
            "or resume=null; to start from a checkpoint of another run, pass ckpt_path=<file>"
        )
    directory = output_dir(cfg)
    record = RunRecord(directory).read()
    if record.get("finished"):
        log.info("The run in %s finished: this one starts afresh (resume=auto)", directory)
        return Resumption(cfg, given)
    checkpoint = newest_checkpoint(directory)
    if not record:
        if checkpoint is None:
            return Resumption(cfg, given)
        log.warning("No record of the run in %s: resuming %s with today's config", directory,
                    checkpoint)  # fmt: skip
        return Resumption(cfg, str(checkpoint))
    resumed = _recorded_config(cfg, record)
    run_id = record.get("mlflow_run_id")
    if run_id:
        _continue_mlflow_run(resumed, str(run_id))
    attempt = int(record.get("attempt", 1)) + 1
    where = str(checkpoint) if checkpoint else given
    log.info(
        "Resuming the run in %s (attempt %d) from %s with its recorded config%s",
        directory, attempt, where or "its start (no checkpoint yet)",
        f", MLflow run {run_id}" if run_id else "",
    )  # fmt: skip
    return Resumption(resumed, where, str(run_id) if run_id else None, attempt)


def output_dir(cfg: DictConfig) -> Path:
    return Path(str(OmegaConf.select(cfg, "paths.output_dir") or ".")).resolve()


def newest_checkpoint(directory: Path) -> Path | None:
    """The most recently written `*.ckpt` under `directory` (None without one)."""
    found = [path for path in directory.rglob("*.ckpt") if path.is_file()]
    return max(found, key=lambda path: path.stat().st_mtime_ns, default=None)


class RunRecord:
    """`<run dir>/.mlcore/run.yaml`: what `resume=auto` needs of an interrupted attempt."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RECORD

    def read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        loaded: Any = OmegaConf.to_container(OmegaConf.load(self.path), resolve=False)
        return loaded if isinstance(loaded, dict) else {}

    def started(self, cfg: DictConfig, run: Any = None, attempt: int = 1) -> None:
        """Record the run's config (rank zero; rewritten by each attempt). The MLflow run id is
        `run.run_id` or, once the run exists, added by mlcore's MlflowTracking callback."""
        from mlcore.logging import global_rank

        if global_rank() != 0:
            return
        hydra = _hydra_runtime()
        self._write(
            {
                "config": OmegaConf.to_container(cfg, resolve=False),
                "choices": hydra.get("choices", {}),
                "overrides": hydra.get("overrides", []),
                "mlflow_run_id": getattr(run, "run_id", None),
                "attempt": attempt,
                "finished": False,
            }
        )

    def set_run_id(self, run_id: str) -> int:
        """Add the MLflow run to the record; the attempt it records."""
        record = self.read()
        self._write({**record, "mlflow_run_id": run_id})
        return int(record.get("attempt", 1))

    def finished(self) -> None:
        """Mark the run done: a later `resume=auto` here starts a new run."""
        from mlcore.logging import global_rank

        if global_rank() == 0 and (record := self.read()):
            self._write({**record, "finished": True})

    def _write(self, content: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(OmegaConf.to_yaml(OmegaConf.create(dict(content))))
        os.replace(temporary, self.path)


def _hydra_runtime() -> dict[str, Any]:
    """This job's config-group choices and command-line overrides (empty outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    choices: Any = OmegaConf.to_container(hydra.runtime.choices, resolve=False)
    groups = {key: value for key, value in (choices or {}).items() if not key.startswith("hydra/")}
    return {"choices": groups, "overrides": list(hydra.overrides.task)}


def _recorded_config(cfg: DictConfig, record: Mapping[str, Any]) -> DictConfig:
    """The recorded config with today's `key=value` overrides applied again."""
    resumed = OmegaConf.create(record["config"])
    runtime = _hydra_runtime()
    recorded_choices = record.get("choices") or {}
    today = runtime.get("choices", {})
    for override in _parse(runtime.get("overrides", [])):
        key = override.key_or_group
        if key.startswith("hydra.") or key == "hydra":
            continue
        if key in recorded_choices or key in today:
            was, now = recorded_choices.get(key), today.get(key)
            if was != now:
                raise ResumeError(
                    f"{override.input_line}: the interrupted run used {key}={was}, and resume=auto "
                    "continues a run with its own config. Drop the override to resume it, or "
                    "start a new run (without resume=auto, or in another run directory)"
                )
            continue
        value = None if override.is_delete() else override.value()
        OmegaConf.update(resumed, key, value, merge=False, force_add=True)
    changed = sorted(set(runtime.get("overrides", [])) - set(record.get("overrides") or []))
    if changed:
        log.info("Resumed with overrides the interrupted run did not have: %s", " ".join(changed))
    # The surrounding Hydra job's values that are not part of a recorded config stay today's.
    current = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(current, dict)
    with open_dict(resumed):
        for key in current.keys() - set(resumed.keys()):
            resumed[key] = current[key]
    return resumed


def _parse(overrides: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(overrides))


def _continue_mlflow_run(cfg: DictConfig, run_id: str) -> None:
    """Point every MLflow logger of the config at the recorded run.

    The run keeps the parameters its first attempt logged: MLflow refuses to change one, and an
    extended run changes the model's (`scheduler/T_max`), so Lightning does not log the model's
    hyperparameters again (`enable_autolog_hparams`); mlcore.tracking rewrites the config
    artifact instead.
    """
    for spec in (cfg.get("logger") or {}).values():
        if spec is not None and str(spec.get("_target_", "")).endswith("MLFlowLogger"):
            with open_dict(spec):
                spec.run_id = run_id
    if cfg.get("trainer") is not None:
        with open_dict(cfg.trainer):
            cfg.trainer.enable_autolog_hparams = False
