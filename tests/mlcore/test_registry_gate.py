"""The promotion gate's decisions, without a store: direction, margin, floor, digest, metric."""

from __future__ import annotations

import pytest

from mlcore.registry import (
    DataDigestMismatchError,
    Evidence,
    Gate,
    GateMetricMissingError,
    PromotionRefusedError,
)


def candidate(value: float | None, digest: str | None = "d1", metric: str = "test/accuracy"):
    return Evidence("candidate v2", {} if value is None else {metric: value}, digest)


def champion(value: float | None, digest: str | None = "d1", metric: str = "test/accuracy"):
    return Evidence("champion v1", {} if value is None else {metric: value}, digest)


def test_better_candidate_passes_and_says_by_how_much() -> None:
    reason = Gate(margin=0.01).check(candidate(0.95), champion(0.93))
    assert "0.9500" in reason and "0.9300" in reason and "+0.0200" in reason


def test_worse_candidate_is_refused_naming_both_figures() -> None:
    with pytest.raises(PromotionRefusedError) as refused:
        Gate().check(candidate(0.90), champion(0.93))
    message = str(refused.value)
    assert "candidate v2 refused" in message and "0.9000" in message and "0.9300" in message
    assert "champion v1" in message and ">= 0.9300" in message


def test_margin_is_required_not_just_any_improvement() -> None:
    with pytest.raises(PromotionRefusedError, match=r"must be >= 0\.9400 \(margin 0\.01"):
        Gate(margin=0.01).check(candidate(0.935), champion(0.93))


def test_a_tie_passes_with_margin_zero() -> None:
    assert Gate(margin=0.0).check(candidate(0.93), champion(0.93))


def test_minimize_inverts_the_comparison() -> None:
    gate = Gate(metric="test/loss", direction="minimize", margin=0.05)
    assert gate.check(candidate(0.10, metric="test/loss"), champion(0.20, metric="test/loss"))
    with pytest.raises(PromotionRefusedError, match=r"<= 0\.1500"):
        gate.check(candidate(0.18, metric="test/loss"), champion(0.20, metric="test/loss"))


def test_without_champion_the_floor_decides() -> None:
    assert "reaches the floor" in Gate(floor=0.9).check(candidate(0.91), None)
    with pytest.raises(PromotionRefusedError, match=r"0\.8500, the floor is >= 0\.9000"):
        Gate(floor=0.9).check(candidate(0.85), None)
    assert "no floor" in Gate(floor=None).check(candidate(0.10), None)


def test_other_data_is_an_error_naming_both_digests() -> None:
    with pytest.raises(DataDigestMismatchError, match=r"digest aaa.*champion v1 on bbb"):
        Gate().check(candidate(0.99, digest="aaa"), champion(0.5, digest="bbb"))
    with pytest.raises(DataDigestMismatchError, match=r"\(none\)"):
        Gate().check(candidate(0.99, digest=None), champion(0.5))


def test_missing_metric_names_the_version_and_its_metrics() -> None:
    with pytest.raises(GateMetricMissingError, match="candidate v2 has no metric 'test/accuracy'"):
        Gate().check(Evidence("candidate v2", {"val/acc": 0.9}, "d1"), champion(0.5))
    with pytest.raises(GateMetricMissingError, match="champion v1 has no metric"):
        Gate().check(candidate(0.9), champion(None))


def test_config_is_validated() -> None:
    gate = Gate.from_config({"metric": "val/acc", "direction": "maximize", "margin": 0, "floor": 1})
    assert gate == Gate("val/acc", "maximize", 0.0, 1.0)
    with pytest.raises(ValueError, match="maximize or minimize, not 'up'"):
        Gate.from_config({"direction": "up"})
    with pytest.raises(ValueError, match=r"unknown key.*treshold"):
        Gate.from_config({"treshold": 0.9})


def test_a_0_1_run_is_gated_on_its_old_metric_name_with_a_deprecation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 0.1 model.py logs `test/acc` (macro-averaged); the gate reads it for `test/accuracy`
    and says so, rather than refusing every 0.1 champion as having no gate metric."""
    old_champion = Evidence("champion v1", {"test/acc": 0.93}, "d1")
    with caplog.at_level("WARNING", logger="mlcore.metrics"):
        reason = Gate().check(candidate(0.95), old_champion)
    assert "0.9500 against champion v1's 0.9300" in reason
    assert "champion v1: no metric 'test/accuracy', so its 0.1 name 'test/acc' is used" in (
        caplog.text
    )
    with pytest.raises(GateMetricMissingError, match="has no metric 'test/accuracy'"):
        Gate().check(candidate(0.95), Evidence("champion v1", {"val/acc": 0.9}, "d1"))
