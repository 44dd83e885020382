"""CDK context: cdk.json documents the real defaults, and bad values stop the synth early."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from infra.config import CDK_JSON, AppConfig, cdk_json_context

from mecroute.mec.profiles import DEFAULT_SITES

SITE = {"node_id": "mec-x-1", "site": DEFAULT_SITES[0].site, "slots": 1, "queue_limit": 1,
        "speed_factor": 1.0, "site_rtt_ms": 0.0, "memory_budget_mb": 8.0}  # fmt: skip


def config_from(**context: Any) -> AppConfig:
    app = cdk.App(context=context)
    return AppConfig.from_context(cdk.Stack(app, "Config").node)


def test_cdk_json_documents_exactly_the_code_defaults():
    context = cdk_json_context()
    documented = {name: context[name] for name in AppConfig.model_fields}
    assert documented == AppConfig().model_dump(mode="json")


def test_default_sites_are_the_mec_node_profiles():
    sites = AppConfig().mec_sites
    assert [(s.node_id, s.site, s.slots, s.queue_limit, s.speed_factor, s.site_rtt_ms,
             s.memory_budget_mb, tuple(s.preload)) for s in sites] == [
        (p.node_id, p.site, p.slots, p.queue_limit, p.speed_factor, p.site_rtt_ms,
         p.memory_budget_mb, p.preload) for p in DEFAULT_SITES
    ]  # fmt: skip


def test_cdk_json_runs_the_app_from_the_virtualenv():
    assert json.loads(CDK_JSON.read_text())["app"] == ".venv/bin/python app.py"


def test_command_line_strings_are_parsed():
    """`cdk synth -c deploy_fleet=false -c mec_sites='[...]'` passes strings."""
    site = {"node_id": "mec-lab-1", "site": DEFAULT_SITES[0].site, "slots": 2, "queue_limit": 4,
            "speed_factor": 1.0, "site_rtt_ms": 1.0, "memory_budget_mb": 64}  # fmt: skip
    config = config_from(
        deploy_fleet="false", log_retention_days="90", mec_sites=json.dumps([site])
    )
    assert config.deploy_fleet is False
    assert config.log_retention_days == 90
    assert [s.node_id for s in config.mec_sites] == ["mec-lab-1"]


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ({"stage": "Prod!"}, "stage"),
        ({"log_retention_days": 45}, "log_retention_days"),
        ({"alarm_email": "not-an-address"}, "alarm_email"),
        ({"api_auth": "cognito"}, "api_auth"),
        ({"mec_sites": [SITE | {"site": "moon-base"}]}, "not a node profile"),
        ({"mec_sites": [SITE | {"colour": "blue"}]}, "mec_sites"),
        ({"mec_sites": [SITE, SITE]}, "unique"),
    ],
    ids=["stage", "retention", "email", "auth", "unknown profile", "extra site key", "twice"],
)  # fmt: skip
def test_invalid_context_fails_before_anything_is_built(context: dict[str, Any], problem: str):
    with pytest.raises(ValueError, match="invalid CDK context") as raised:
        config_from(**context)
    assert problem in str(raised.value)
