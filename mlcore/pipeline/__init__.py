"""Continuous training: what lets Make skip a pipeline step whose inputs did not change.

The generated `make pipeline` chains plain Hydra entry points (prepare data, train, evaluate,
promote) as Make targets. Each step depends on a stamp file that `mlcore pipeline stamp` writes:
the fingerprints of its data, the hash of its composed config and of its code. The stamp is
rewritten only when that content changes, so Make's own timestamp comparison re-runs a step
exactly when one of its inputs changed. No engine of ours decides anything.
"""

from __future__ import annotations

from mlcore.pipeline.stamp import StampError, code_hash, config_hash, stamp_content, write_stamp

__all__ = ["StampError", "code_hash", "config_hash", "stamp_content", "write_stamp"]
