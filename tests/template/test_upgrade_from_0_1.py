"""A repo made from the real v0.1.0 release, used and edited, then updated to this checkout.

Its owners trained with v0.1.0's mlcore and changed their starters, the README and the Makefile;
`copier update` (what `make update` runs) brings today's standard. The repo's own tests, training,
promotion and serving must then pass with today's mlcore, its edits intact.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run
from tests.template.conftest import SHARED_ENV, editable_location, make
from tests.template.history import commit_all, files_with_markers, generate, git, update
from tests.template.legacy import V0_1, build_legacy_history, legacy_mlcore, release_commit
from tests.template.test_generated_project import (
    assert_make_serve_answers,
    finished_runs,
    passed,
)

pytestmark = [pytest.mark.slow]

# A name of its own: other tests install `ml-project` into the same shared environment at the
# same time, and one editable package name cannot point at two checkouts.
NAME = "Legacy Digits"
SLUG = "legacy-digits"
# What the repo's owners changed after `copier copy` of v0.1.0.
MODEL_CONFIG = ("dropout: 0.1", "dropout: 0.2")
README_LINE = "\nOur team's notes: the digits model, retrained weekly.\n"
MAKEFILE_TARGET = "\n.PHONY: hello\nhello: ## Our own target\n\t@echo hello from our target\n"
OWN_TEST = "tests/test_own.py"
OWN_TEST_TEXT = "def test_our_own_check() -> None:\n    assert 1 + 1 == 2\n"


def make_in(project: Path, *targets: str, env: dict[str, str] | None = None) -> str:
    result = run(["make", *targets, *SHARED_ENV], cwd=project, env=env, timeout=900)
    return result.stdout + result.stderr


@pytest.fixture
def installed_slug() -> Iterator[None]:
    """Leave the shared environment as it was: the project's editable install removed, or a
    project of the same name that was installed before put back."""
    previous = editable_location(SLUG)
    yield
    pip = [sys.executable, "-m", "pip", "--quiet"]
    if previous and Path(previous).is_dir():
        run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", previous], Path.cwd())
    else:
        run([*pip, "uninstall", "--yes", SLUG], Path.cwd())


def test_a_v0_1_repo_updates_and_still_tests_trains_promotes_and_serves(
    tmp_path: Path, installed_slug: None
) -> None:
    history = build_legacy_history(tmp_path / "kit")
    project = generate(history, tmp_path / "project", {"project_name": NAME}, vcs_ref=V0_1)

    # Life under v0.1.0, with its own mlcore: set up, train (runs land in ./mlflow.db).
    old = legacy_mlcore(history, tmp_path / "mlcore-0.1")
    make_in(project, "setup", env=old)
    make_in(project, "train", "ARGS=trainer.max_epochs=3", env=old)
    assert finished_runs(project, SLUG, "train"), "v0.1.0 trained and tracked a run"

    # The owners' own changes, committed.
    model_config = project / "configs" / "model" / "mlp.yaml"
    model_config.write_text(model_config.read_text().replace(*MODEL_CONFIG))
    with (project / "README.md").open("a") as readme:
        readme.write(README_LINE)
    with (project / "Makefile").open("a") as makefile:
        makefile.write(MAKEFILE_TARGET)
    (project / OWN_TEST).write_text(OWN_TEST_TEXT)
    commit_all(project, "Our changes")

    update(project)
    assert not files_with_markers(project), "the update of an edited 0.1 repo has no conflicts"
    assert MODEL_CONFIG[1] in model_config.read_text(), "a user-owned starter is kept"
    assert README_LINE.strip() in (project / "README.md").read_text()
    assert (project / OWN_TEST).read_text() == OWN_TEST_TEXT
    commit_all(project, "Update to the newest standard")

    # Today's mlcore from here on.
    make_in(project, "setup")
    doctor = run(["make", "doctor", *SHARED_ENV], cwd=project, check=False)
    report = doctor.stdout + doctor.stderr
    assert doctor.returncode != 0 and "Not on the standard:" in report, report
    assert "changed  Makefile" in report, "the owners' own target: drift from the standard"
    assert "edited   README.md" in report, "their notes: an edit the standard invites"
    assert "hello from our target" in make_in(project, "hello"), "the owners' target survives"
    assert passed(make_in(project, "test"))
    make_in(project, "train", "ARGS=trainer.max_epochs=5")
    runs = finished_runs(project, SLUG, "train")
    assert len(runs) == 2, "the 0.1 run and today's, in the same store"
    assert "Promoted" in make_in(project, "promote")
    [newest] = sorted(runs, key=lambda found: found.info.start_time)[-1:]
    champion = newest.data.tags["mlcore.registry.version"].split("/")[-1]
    assert_make_serve_answers(project, SLUG, champion)

    # The owners' model.py is still 0.1's (`copier update` never writes it): its metric names
    # are read under today's, with a deprecation message, and a second training is gated
    # against the champion the first made.
    second = make_in(project, "train", "ARGS=trainer.max_epochs=5")
    assert OLD_NAME_USED.format(old="val/acc") in second
    gated = make_in(project, "promote", "ARGS=--refused-ok")
    assert f"against champion v{champion}" in gated
    assert OLD_NAME_USED.format(old="test/acc") in gated


# What the deprecation message says where a 0.1 name stands in for today's.
OLD_NAME_USED = "so its 0.1 name '{old}' is used (deprecated"


def test_a_0_1_model_py_trains_and_is_gated_under_its_old_metric_names(
    installed_project: Callable[..., Path],
) -> None:
    """Quicker than the whole upgrade: today's repo with 0.1's model.py (a starter that updates
    keep), which logs `val/acc` and `test/acc` where today's callbacks and gate read
    `val/accuracy` and `test/accuracy`: it trains, checkpoints and is gated, and says so."""
    project = installed_project({})
    model = git(REPO, "show", f"{release_commit()}:template/src/{{{{package_name}}}}/model.py")
    (project / "src" / "ml_project" / "model.py").write_text(model)
    quick = "ARGS=trainer.max_epochs=2 +trainer.limit_train_batches=5 tracking.onnx=false"
    first = make(project, "train", quick)
    for callback in ("ModelCheckpoint", "EarlyStopping"):
        assert f"{callback}(monitor='val/accuracy'): no metric" in first, first[-3000:]
    assert OLD_NAME_USED.format(old="val/acc") in first
    assert list((project / "logs" / "train" / "runs").glob("*/checkpoints/epoch_*.ckpt"))
    promoted = make(project, "promote", "ARGS=--floor 0")
    assert "Promoted" in promoted and OLD_NAME_USED.format(old="test/acc") in promoted
    make(project, "train", quick)
    gated = make(project, "promote", "ARGS=--refused-ok")
    assert "against champion v1" in gated, gated
