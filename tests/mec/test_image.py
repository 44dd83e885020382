"""The Fargate image installs the node's dependencies at the versions the project pins."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_images_pins_are_the_projects_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["http"]]
    pinned = {spec.split("==")[0].split("[")[0]: spec.split("==")[1] for spec in specs}
    lines = (ROOT / "docker" / "mec-node" / "requirements.txt").read_text().splitlines()
    image = dict(line.split("==") for line in lines if line and not line.startswith("#"))

    assert image, "the image installs nothing"
    for name, version in image.items():
        assert pinned.get(name) == version, f"{name}: image {version}, pyproject {pinned.get(name)}"
