"""Lambda layers built locally with pip for Python 3.14 on arm64: no Docker needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
PIP_TARGET_FLAGS = [
    "--platform", "manylinux_2_28_aarch64",
    "--only-binary=:all:",
    "--python-version", "3.14",
    "--implementation", "cp",
]


@jsii.implements(ILocalBundling)
class PipBundler:
    """Installs requirements (and optionally the mecroute package) into <out>/python."""

    def __init__(self, requirements: Path, include_package: bool) -> None:
        self.requirements = requirements
        self.include_package = include_package

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run(  # noqa: S603 - fixed pip command line
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
             *PIP_TARGET_FLAGS, "-r", str(self.requirements)],
            check=True,
        )
        if self.include_package:
            shutil.copytree(ROOT / "src" / "mecroute", target / "mecroute", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "local"))
        return True


def shared_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    requirements = ROOT / "layers" / "shared" / "requirements.txt"
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(
            str(ROOT / "layers" / "shared"),
            bundling=BundlingOptions(
                # Never pulled: local bundling always succeeds or raises.
                image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
                local=PipBundler(requirements, include_package=True),
            ),
        ),
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_14],
        compatible_architectures=[lambda_.Architecture.ARM_64],
        description="mecroute package, pydantic, powertools, onnxruntime",
    )
