"""mlcore uses other libraries (Lightning, MLflow, submitit, Hydra...) through public APIs only.

A private name (`_x`) of another library changes without notice in any release, and MLflow has
no upper bound. ruff's SLF001 catches `obj._x`; this test catches what it cannot see: `getattr`,
`setattr`, `hasattr` and `delattr` with a literal private name, and `from x import _y` (or a
private module) of another package. Inside mlcore, a subpackage's private names stay its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mlcore

ROOT = Path(mlcore.__file__).parent
REFLECTION = {"getattr", "setattr", "hasattr", "delattr"}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def owner(module: str) -> str:
    """`mlcore.registry.store` -> `mlcore.registry`; a top-level mlcore module is its own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def violations(root: Path) -> list[str]:
    """Every use of another package's private names in the .py files under root (mlcore)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent)
        here = ".".join(relative.with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{relative}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in REFLECTION:
                target, name = [*node.args, None, None][:2]
                own = isinstance(target, ast.Name) and target.id in ("self", "cls")
                literal = name.value if isinstance(name, ast.Constant) else None
                if isinstance(literal, str) and private(literal) and not own:
                    found.append(f"{where}: {getattr(node.func, 'id', '')}(..., {literal!r})")
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = node.module
                private_module = any(private(part) for part in module.split("."))
                if module.split(".")[0] != "mlcore":
                    names = [a.name for a in node.names if private(a.name)]
                    if private_module or names:
                        found.append(f"{where}: from {module} import {names or '...'}")
                elif owner(module) != owner(here):
                    names = [a.name for a in node.names if private(a.name)]
                    if private_module or names:
                        found.append(f"{where}: from {module} import {names or '...'} "
                                     f"(private to {owner(module)})")  # fmt: skip
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] != "mlcore" and any(private(p) for p in parts):
                        found.append(f"{where}: import {alias.name}")
    return found


def test_mlcore_uses_public_names_of_other_packages_only() -> None:
    found = violations(ROOT)
    assert not found, "private names of other packages used in mlcore:\n" + "\n".join(found)


def test_the_check_sees_each_kind_of_private_use(tmp_path: Path) -> None:
    """The test above would fail on each of these (today's mlcore had all of them)."""
    package = tmp_path / "mlcore"
    (package / "registry").mkdir(parents=True)
    (package / "registry" / "describe.py").write_text(
        "from mlcore.tracking.model import _skip_module_scan\n"
        "from mlflow.utils.requirements_utils import _MODULES_TO_PACKAGES\n"
        "import lightning._internal\n"
        "step = getattr(monitor, '_logging_step', None)\n"
        "setattr(logger, '_mlflow_client', guard)\n"
        "mine = getattr(self, '_cache', None)\n"  # its own: fine
        "spec = getattr(module, '__spec__', None)\n"  # a dunder: public
        "from mlcore.registry._local import helper\n"  # its own package: fine
    )
    found = violations(package)
    assert [line.split(": ", 1)[1] for line in found] == [
        "from mlcore.tracking.model import ['_skip_module_scan'] (private to mlcore.tracking)",
        "from mlflow.utils.requirements_utils import ['_MODULES_TO_PACKAGES']",
        "import lightning._internal",
        "getattr(..., '_logging_step')",
        "setattr(..., '_mlflow_client')",
    ]
