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


# Runs in a fresh interpreter: imports the node and the gateway with every module blocked
# that is neither the standard library nor in the image (its requirements and their deps).
_IMPORT_CHECK = """
import importlib.abc, json, sys
allowed = set(json.loads(sys.argv[1]))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in allowed or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"{name} is not in the node image")
sys.meta_path.insert(0, Block())
import mecroute.mec.node, mecroute.gateway.main
"""


def _image_modules() -> set[str]:
    """Top-level modules of the image's requirements and everything they require."""
    import importlib.metadata as metadata

    from packaging.requirements import Requirement

    lines = (ROOT / "docker" / "mec-node" / "requirements.txt").read_text().splitlines()
    pending = [line.split("==")[0] for line in lines if line and not line.startswith("#")]
    seen: set[str] = set()
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    modules = {"mecroute"}
    for module, distributions in metadata.packages_distributions().items():
        if any(d.lower().replace("_", "-") in seen for d in distributions):
            modules.add(module)
    return modules


def test_the_image_can_run_the_node_and_the_gateway() -> None:
    import json
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, json.dumps(sorted(_image_modules()))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
