"""The Markdown summary of one `make pipeline`: the champion it met against the candidate it made.

Reads what the pipeline's steps left in their folder: `train.done` (the candidate, described when
it was registered), `champion-before.json` (the champion before the gate, if there was one) and
`promote.done` (the gate's decision). CI appends it to the job summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def summary(folder: str | Path) -> str:
    """Markdown: a metrics table (champion before vs candidate) and the gate's decision."""
    folder = Path(folder)
    candidate = _read_json(folder / "train.done")
    if candidate is None:
        raise FileNotFoundError(
            f"no {folder / 'train.done'}: run `make pipeline` first (it trains and registers)"
        )
    champion = _read_json(folder / "champion-before.json")
    decision_file = folder / "promote.done"
    decision = decision_file.read_text().strip() if decision_file.is_file() else "not gated yet"
    name = candidate["name"]
    old = f"champion v{champion['version']}" if champion else "champion (none)"
    new = f"candidate v{candidate['version']}"
    lines = [
        f"## {name}: {old} vs {new}",
        "",
        f"| metric | {old} | {new} |",
        "| --- | ---: | ---: |",
    ]
    before, after = (champion or {}).get("metrics", {}), candidate.get("metrics", {})
    lines += [
        f"| {key} | {_figure(before.get(key))} | {_figure(after.get(key))} |"
        for key in sorted(set(before) | set(after))
        if not key.startswith("system/")
    ]
    note = "Metrics of the runs that trained each version. The gate compared their evaluations"
    lines += ["", f"{note} on the current test split:", "", f"**Gate:** {decision}", ""]
    return "\n".join(lines)


def _figure(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"
