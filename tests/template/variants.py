"""The rendered variants: together they give every answer of every multiple-choice question.

Variants for the Python version installed here are set up, tested and trained; the others are
rendered and linted only (the only local torch build is for this Python).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from tests.template.conftest import LOCAL_MLCORE, example_answers

INDEX = "https://pypi.internal.example.com/simple"
INSTALLED_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Variant:
    answers: dict[str, Any] = field(default_factory=dict)
    # Take mlcore from this checkout (path source) rather than the answers' own source.
    local_mlcore: bool = False

    @property
    def rendered_answers(self) -> dict[str, Any]:
        """The answers Copier gets: with local_mlcore, the source is this checkout."""
        return {**(LOCAL_MLCORE if self.local_mlcore else {}), **self.answers}

    @property
    def python(self) -> str:
        return str(self.answers.get("python_version", "3.11"))

    @property
    def runs_here(self) -> bool:
        return self.python == INSTALLED_PYTHON


VARIANTS: dict[str, Variant] = {
    # `copier copy --defaults`, exactly: mlcore from the release URL (never fetched here).
    "defaults": Variant(),
    # The documented example, with mlcore from this checkout.
    "example": Variant(example_answers("digits-classifier"), local_mlcore=True),
    "py310-bsd-index-gpu": Variant(
        {
            "python_version": "3.10",
            "license": "BSD-3-Clause",
            "mlcore_source": "index",
            "mlcore_index_url": INDEX,
            "use_gpu": True,
            "deploy_target": "none",
        }
    ),
    "py312-mit-kubernetes": Variant(
        {"python_version": "3.12", "license": "MIT", "deploy_target": "kubernetes"}
    ),
    "py313-proprietary-path-gpu": Variant(
        {"python_version": "3.13", "license": "Proprietary", "use_gpu": True},
        local_mlcore=True,
    ),
}
