"""A throwaway virtualenv under build/ holding LiteLLM, for the side-by-side only: the product
never imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from suite.paths import BUILD_DIR

# Pinned so that figures from two runs compare; the version issue 16 measured first.
LITELLM_VERSION = "1.110.2"


def venv_dir(version: str = LITELLM_VERSION) -> Path:
    return BUILD_DIR / f"litellm-{version}"


def python(directory: Path) -> Path:
    return directory / "bin" / "python"


def ensure(version: str = LITELLM_VERSION) -> Path:
    """The venv's interpreter, creating the venv and installing LiteLLM with pip on first use
    (PyPI must be reachable once). Raises RuntimeError with pip's output when that fails."""
    directory = venv_dir(version)
    installed = directory / ".installed"
    if installed.exists():
        return python(directory)
    commands = [
        [sys.executable, "-m", "venv", "--clear", str(directory)],
        [str(python(directory)), "-m", "pip", "install", "--quiet", f"litellm=={version}"],
    ]
    for command in commands:
        completed = subprocess.run(  # noqa: S603 - our interpreter and pip, fixed arguments
            command, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"could not install LiteLLM {version} in {directory}: "
                f"{' '.join(command[-3:])} exited {completed.returncode}\n"
                f"{completed.stderr.strip()[-2000:]}"
            )
    installed.write_text(version + "\n")
    return python(directory)
