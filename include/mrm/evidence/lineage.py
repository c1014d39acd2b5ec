"""Lineage of a run: the versions of what computed its numbers, the git commit, seconds per step."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mrm import settings

TIMING = "_seconds"  # evidence keys ending so are step timings, moved to the run's lineage


@lru_cache(maxsize=1)
def _software() -> dict[str, Any]:
    """Versions of what computed the numbers, and the git commit of this checkout if there is one."""
    import platform
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(settings.REPO_ROOT), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    import mrm

    packages = ("evidently", "great-expectations", "pandas", "numpy", "pyarrow", "apache-airflow")
    return {
        "mrm": mrm.__version__, "git_commit": commit, "python": platform.python_version(),
        **{name: v(name) for name in packages},
    }  # fmt: skip


def lineage(evidence: dict[str, Any]) -> dict[str, Any]:
    timings = {k.removesuffix(TIMING): v for k, v in evidence.items() if k.endswith(TIMING)}
    return {**_software(), "step_seconds": timings}
