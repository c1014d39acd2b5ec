"""Lineage of a run: the versions of what computed its numbers, the git commit, seconds per step, and
the inputs its steps read that are not its own files (e.g. the reference counts it was judged against)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mrm import settings

TIMING = "_seconds"  # evidence keys ending so are step timings, moved to the run's lineage
INPUT = "_input"  # evidence keys ending so record an input a step read (not a file of the run): lineage


def files_of(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence references of a run's steps, without their timings and input records."""
    return {k: v for k, v in evidence.items() if not k.endswith((TIMING, INPUT))}


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
    read = {k.removesuffix(INPUT): v for k, v in evidence.items() if k.endswith(INPUT) and v}
    return {**_software(), "step_seconds": timings, **({"inputs": read} if read else {})}
