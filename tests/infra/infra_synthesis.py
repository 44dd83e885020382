"""Synthesising the app for tests/infra: as `cdk synth` would, with cdk.json's context and
cdk-nag on, layer bundling skipped (`make synth` exercises the pip installs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from infra.config import cdk_json_context
from infra.nag import check_app
from infra.stack import MecRouteStack

STACK_NAME = "MecRoute-test"


@dataclass
class Synthesis:
    stack: MecRouteStack
    raw_template: dict[str, Any]
    template: Template
    outdir: Path
    error: Exception | None

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.raw_template["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, Any]:
        return {k: r for k, r in self.resources.items() if r["Type"] == resource_type}

    def validation_report(self) -> dict[str, Any]:
        path = self.outdir / "validation-report.json"
        report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return report


def synthesize(outdir: Path, **context: Any) -> Synthesis:
    app = cdk.App(
        context={**cdk_json_context(), "aws:cdk:bundling-stacks": [], **context},
        outdir=str(outdir),
    )
    stack = MecRouteStack(app, STACK_NAME)
    check_app(app)
    error: Exception | None = None
    try:
        app.synth()
    except RuntimeError as failure:  # ValidationFailed arrives through jsii as RuntimeError
        error = failure
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    return Synthesis(stack, template, Template.from_json(template), outdir, error)
