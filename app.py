#!/usr/bin/env python3
"""The CDK app: `cdk synth` / `cdk deploy` entry point (see cdk.json for context defaults)."""

import aws_cdk as cdk

from infra.stack import MecRouteStack

app = cdk.App()
MecRouteStack(
    app,
    f"MecRoute-{app.node.try_get_context('stage') or 'dev'}",
    description="mecroute: AI inference routing across device, MEC and cloud tiers",
)
app.synth()
