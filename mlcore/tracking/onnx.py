"""The logged model again, as ONNX: MLflow's onnx flavour beside the pytorch one, checked equal.

Serving prefers the ONNX copy (onnxruntime is faster and needs no torch). It is published only if
its outputs match PyTorch's within `RTOL`/`ATOL`; otherwise the reason is logged and tagged
(`mlcore.onnx.error`) and training goes on. The TorchScript exporter (`dynamo=False`) is used
where it exists, being much faster.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcore.mlflow_store import ONNX_ERROR, ONNX_MAX_DIFF, ONNX_URI

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

ONNX_NAME = "model_onnx"  # the ONNX model's name in its run, beside `model`
INPUT_NAME, OUTPUT_NAME = "input", "output"
# The tolerance of the equality check: |onnx - torch| <= ATOL + RTOL * |torch|, element-wise.
RTOL, ATOL = 1e-4, 1e-5
RUNTIME_PACKAGES = ("onnx", "onnxruntime", "numpy")


class OnnxMismatchError(ValueError):
    """The ONNX model's outputs differ from the PyTorch model's beyond the tolerance."""


@dataclass(frozen=True)
class OnnxExport:
    """An exported model, checked: its ONNX proto and the largest difference seen."""

    proto: Any
    max_abs_diff: float


def export(model: Any, inputs: np.ndarray, expected: np.ndarray | None = None) -> OnnxExport:
    """Export `model` (any torch module taking one float tensor, batch first) to ONNX with a
    dynamic batch axis, and check it with onnxruntime on `inputs` against `expected`, the
    module's outputs there (computed here when not given)."""
    import numpy as np
    import onnx
    import torch

    was_training = model.training
    model.eval()
    try:
        sample = torch.as_tensor(inputs[: max(2, min(len(inputs), 8))])
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            _export(model, sample, path)
            proto = onnx.load(str(path))
        if expected is None:
            with torch.inference_mode():
                expected = model(torch.as_tensor(inputs)).detach().cpu().numpy()
    finally:
        model.train(was_training)
    actual = run_onnx(proto.SerializeToString(), inputs)
    diff = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=RTOL, atol=ATOL):
        raise OnnxMismatchError(
            f"ONNX outputs differ from the PyTorch model's: max |diff| {diff:.3g} "
            f"(tolerance {ATOL} + {RTOL} x |output|), shapes {actual.shape} and {expected.shape}"
        )
    return OnnxExport(proto, diff)


def run_onnx(serialized: bytes, inputs: np.ndarray) -> np.ndarray:
    """The outputs of a serialized ONNX model on `inputs`, through onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(serialized, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def log_onnx(
    model: Any, inputs: np.ndarray, signature: Any = None, expected: np.ndarray | None = None
) -> str | None:
    """Export, check and log the model in MLflow's onnx flavour into the active run; tag the run
    with its URI (or the reason there is none) and return the URI (None when not logged)."""
    import mlflow

    from mlcore.tracking.model import pinned

    try:
        exported = export(model, inputs, expected)
    except Exception as error:  # no onnx, an op with no ONNX form, a mismatch: serve with torch
        missing = isinstance(error, ImportError)
        why = "ONNX export needs onnx and onnxruntime" if missing else type(error).__name__
        _skipped(f"{why}: {error}")
        return None
    requirements = [pin for name in RUNTIME_PACKAGES if (pin := pinned(name))]
    info = mlflow.onnx.log_model(
        exported.proto,
        name=ONNX_NAME,
        signature=signature,
        input_example=inputs[:5],
        pip_requirements=requirements,
        save_as_external_data=False,
        onnx_execution_providers=["CPUExecutionProvider"],
    )
    mlflow.set_tags({ONNX_URI: info.model_uri, ONNX_MAX_DIFF: f"{exported.max_abs_diff:.3g}"})
    diff = exported.max_abs_diff
    log.info("Logged the ONNX model as %s (max |onnx - torch| %.2g)", info.model_uri, diff)
    return info.model_uri


def _export(model: Any, sample: Any, path: Path) -> None:
    import torch

    common: dict[str, Any] = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        try:
            torch.onnx.export(
                model,
                (sample,),
                str(path),
                dynamo=False,
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                **common,
            )
            return
        except TypeError:  # a torch without the TorchScript exporter
            pass
        batch = torch.export.Dim("batch")
        program = torch.onnx.export(
            model, (sample,), dynamo=True, dynamic_shapes=({0: batch},), **common
        )
        assert program is not None  # dynamo=True returns the program
        program.save(str(path))


def _skipped(reason: str) -> None:
    import mlflow

    log.warning("No ONNX copy of the model (serving will use torch): %s", reason)
    mlflow.set_tag(ONNX_ERROR, reason[:500])
