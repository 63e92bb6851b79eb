"""resume=auto's record and choices, the callbacks every run gets, torchrun's exit code."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf

from mlcore import resume as resuming
from mlcore.callbacks import ConfiguredSchedule, LegacyMetricNames
from mlcore.launch.torchrun import exit_code
from mlcore.metrics import legacy_name
from mlcore.resume import ResumeError, RunRecord, newest_checkpoint, resume
from mlcore.training import instantiate_callbacks

CONFIG = """
paths: {{output_dir: {out}}}
resume: auto
ckpt_path: null
trainer: {{max_epochs: 3}}
model: {{dropout: 0.1, scheduler: {{T_max: "${{trainer.max_epochs}}"}}}}
logger:
  mlflow: {{_target_: lightning.pytorch.loggers.MLFlowLogger, experiment_name: x}}
"""


def config(out: Path, **changes: object) -> object:
    cfg = OmegaConf.create(CONFIG.format(out=out))
    for key, value in changes.items():
        OmegaConf.update(cfg, key.replace("__", "."), value)
    return cfg


class Run:
    run_id = "0123abcd"

    def set_tags(self, tags: dict) -> None:
        self.tags = tags


def test_a_fresh_run_directory_starts_afresh(tmp_path: Path) -> None:
    started = resume(config(tmp_path))
    assert started.ckpt_path is None and started.mlflow_run_id is None and started.attempt == 1


def test_an_interrupted_run_resumes_its_record_checkpoint_and_mlflow_run(tmp_path: Path) -> None:
    RunRecord(tmp_path).started(config(tmp_path), Run())
    (tmp_path / "checkpoints").mkdir()
    for name in ("epoch_000.ckpt", "last.ckpt", "interrupted.ckpt"):
        (tmp_path / "checkpoints" / name).write_bytes(b"x")
        time.sleep(0.01)
    today = config(tmp_path, model__dropout=0.3)  # the files changed since
    started = resume(today)
    assert started.ckpt_path == str(tmp_path / "checkpoints" / "interrupted.ckpt")
    assert started.cfg.model.dropout == 0.1, "the recorded config, not today's"
    assert started.cfg.model.scheduler.T_max == 3, "unresolved: it follows max_epochs"
    assert started.cfg.logger.mlflow.run_id == Run.run_id
    # MLflow refuses a changed parameter: the first attempt's stay, not logged again.
    assert started.cfg.trainer.enable_autolog_hparams is False
    assert started.attempt == 2


def test_a_finished_run_is_not_resumed(tmp_path: Path) -> None:
    record = RunRecord(tmp_path)
    record.started(config(tmp_path), Run())
    (tmp_path / "last.ckpt").write_bytes(b"x")
    record.finished()
    started = resume(config(tmp_path))
    assert started.ckpt_path is None and started.mlflow_run_id is None


def test_overrides_apply_again_but_a_group_cannot_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = {"choices": {"model": "mlp"}, "overrides": ["resume=auto"]}
    monkeypatch.setattr(resuming, "_hydra_runtime", lambda: runtime)
    RunRecord(tmp_path).started(config(tmp_path), Run())

    runtime = {"choices": {"model": "mlp"}, "overrides": ["resume=auto", "trainer.max_epochs=6"]}
    extended = resume(config(tmp_path)).cfg
    assert extended.trainer.max_epochs == 6 and extended.model.scheduler.T_max == 6

    runtime = {"choices": {"model": "cnn"}, "overrides": ["model=cnn"]}
    with pytest.raises(ResumeError, match="the interrupted run used model=mlp"):
        resume(config(tmp_path))


def test_resume_takes_auto_or_nothing(tmp_path: Path) -> None:
    with pytest.raises(ResumeError, match="use resume=auto"):
        resume(config(tmp_path, resume="last"))
    given = config(tmp_path, resume=None, ckpt_path="a.ckpt")
    assert resume(given).ckpt_path == "a.ckpt"


def test_newest_checkpoint_is_by_modification_time(tmp_path: Path) -> None:
    assert newest_checkpoint(tmp_path) is None
    old, new = tmp_path / "hpc_ckpt_1.ckpt", tmp_path / "checkpoints" / "last.ckpt"
    new.parent.mkdir()
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (time.time() + 60, time.time() + 60))
    assert newest_checkpoint(tmp_path) == old


def test_every_run_gets_the_standard_callbacks(tmp_path: Path) -> None:
    built = instantiate_callbacks({}, trainer={"default_root_dir": str(tmp_path)})
    assert isinstance(built[0], LegacyMetricNames)
    assert any(isinstance(callback, ConfiguredSchedule) for callback in built)
    checkpoints = [callback for callback in built if isinstance(callback, ModelCheckpoint)]
    default, interrupted = checkpoints
    assert "=" not in default.format_checkpoint_name({"epoch": 29, "step": 90})
    assert interrupted.save_on_exception and interrupted.save_top_k == 0
    assert interrupted.format_checkpoint_name({}) == str(
        tmp_path / "checkpoints" / "interrupted.ckpt"
    )
    assert not any(
        isinstance(callback, ModelCheckpoint)
        for callback in instantiate_callbacks({}, trainer={"enable_checkpointing": False})
    )


def test_torchrun_exit_code_says_whether_to_retry() -> None:
    assert exit_code([143]) == 143, "a worker that saved and exited on SIGTERM"
    assert exit_code([-15, 143]) == 143, "one killed by the signal, one that handled it"
    assert exit_code([143, 1]) == 1, "an error anywhere is not retried"
    assert exit_code([]) == 1


def test_legacy_names() -> None:
    assert legacy_name("val/accuracy") == "val/acc"
    assert legacy_name("val/accuracy_best") == "val/acc_best"
    assert legacy_name("test/loss") is None
