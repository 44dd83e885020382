"""Lambda layers built locally with pip for Python 3.14 on arm64: no Docker needed.

`shared` carries the mecroute package, pydantic and powertools: every function uses it.
`onnx` carries numpy and onnxruntime (about 116 MB unpacked): only the agents that import
them attach it (infra/agents.py), so the others keep small packages and fast cold starts.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "src" / "mecroute"
PIP_TARGET_FLAGS = [
    # Wheels tagged only manylinux2014 (glibc 2.17, e.g. pydantic-core) run on the Lambda
    # image too; pip does not infer the older tag from manylinux_2_28, so name both.
    "--platform", "manylinux_2_28_aarch64",
    "--platform", "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version", "3.14",
    "--implementation", "cp",
]  # fmt: skip
# The Lambda runtime ships boto3 with these; aws-xray-sdk drags botocore in (31 MB).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3", "python_dateutil", "six")
# The offline runtime (moto and local processes) and the offline evaluation tools
# (simulator, eval-router) and the edge gateway (Fargate) never run in Lambda.
SKIPPED_PACKAGES = ("local", "evaluation", "gateway")
PACKAGE_EXCLUDES = ("__pycache__", "*.pyc", *SKIPPED_PACKAGES)


@jsii.implements(ILocalBundling)
class PipBundler:
    """Installs requirements (and optionally the mecroute package) into <out>/python."""

    def __init__(self, requirements: Path, include_package: bool) -> None:
        self.requirements = requirements
        self.include_package = include_package

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run(  # noqa: S603 - fixed pip command line  # nosec B603
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
             "--target", str(target), *PIP_TARGET_FLAGS, "-r", str(self.requirements)],
            check=True,
        )  # fmt: skip
        remove_distributions(target, RUNTIME_PROVIDED)
        shutil.rmtree(target / "bin", ignore_errors=True)
        if self.include_package:
            shutil.copytree(
                PACKAGE_DIR,
                target / "mecroute",
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(*PACKAGE_EXCLUDES),
            )
        return True


def remove_distributions(site_packages: Path, names: tuple[str, ...]) -> None:
    """Uninstall by each distribution's RECORD, the way pip would, without pip's resolver."""
    wanted = {name.lower().replace("-", "_") for name in names}
    for dist_info in site_packages.glob("*.dist-info"):
        name = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0].lower()
        if name not in wanted:
            continue
        for line in (dist_info / "RECORD").read_text().splitlines():
            path = site_packages / line.split(",", 1)[0]
            if path.is_file():
                path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
    for directory in sorted(site_packages.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def content_hash(*paths: Path, extra: str = "") -> str:
    """Hash of what goes into a layer, so an unchanged layer is not rebuilt on every synth."""
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            relative = file.relative_to(path) if path.is_dir() else Path(file.name)
            if any(part in ("__pycache__", *SKIPPED_PACKAGES) for part in relative.parts):
                continue
            digest.update(str(relative).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.shared = self._layer(
            "Shared", "shared", include_package=True,
            description="mecroute package, pydantic, powertools (boto3 from the runtime)",
        )  # fmt: skip
        self.onnx = self._layer(
            "Onnx", "onnx", include_package=False,
            description="numpy and onnxruntime, for the agents that run ONNX models",
        )  # fmt: skip

    def _layer(
        self, construct_id: str, name: str, *, include_package: bool, description: str
    ) -> lambda_.LayerVersion:
        requirements = ROOT / "layers" / name / "requirements.txt"
        inputs = [requirements, PACKAGE_DIR] if include_package else [requirements]
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(
                str(requirements.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=content_hash(
                    *inputs, Path(__file__), extra=" ".join([*PIP_TARGET_FLAGS, *RUNTIME_PROVIDED])
                ),
                bundling=BundlingOptions(
                    # Never pulled: local bundling always succeeds or raises.
                    image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
                    local=PipBundler(requirements, include_package=include_package),
                ),
            ),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_14],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=description,
        )
