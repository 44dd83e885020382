#!/usr/bin/env python3
"""The CDK app: `cdk synth` / `cdk deploy` entry point (cdk.json documents the context)."""

import aws_cdk as cdk
from infra.config import cdk_json_context
from infra.nag import check_app
from infra.stack import MecRouteStack

app = cdk.App(context=cdk_json_context())
stage = app.node.try_get_context("stage") or "dev"
MecRouteStack(
    app,
    f"MecRoute-{stage}",
    description="mecroute: AI inference routing across device, MEC and cloud tiers",
)
check_app(app)
app.synth()
