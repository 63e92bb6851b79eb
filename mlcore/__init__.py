"""mlcore: the engineering every ML repo made from the ML Platform Kit template shares.

Importing this package is instant on purpose: torch, lightning and mlflow load only inside the
functions that need them, so the CLI and pre-commit hooks never pay for them.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version comes from the installed distribution (set from the git tag at build time),
    # looked up only when asked for so that `import mlcore` stays free.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("mlcore")
        except PackageNotFoundError:  # running from a checkout that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module 'mlcore' has no attribute {name!r}")
