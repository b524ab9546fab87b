"""Which code is running: the installed distribution's version and, from a git checkout, its commit.

Recorded with each verification run so a result names the code it verified. Best effort: a source
that cannot be read is left out, and no version at all is None (never an error).
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT_TIMEOUT_S = 2.0


def _git_commit() -> str | None:
    if not (ROOT / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],  # noqa: S603, S607
                             capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def code_version() -> str | None:
    """``<version>+g<commit>``, ``<version>``, ``g<commit>`` or None."""
    try:
        version: str | None = metadata.version("paulp")
    except metadata.PackageNotFoundError:
        version = None
    commit = _git_commit()
    if version and commit:
        return f"{version}+g{commit}"
    return version or (f"g{commit}" if commit else None)
