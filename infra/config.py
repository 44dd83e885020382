"""The deployment's settings, read from CDK context and validated before anything is built.

`cdk.json` repeats every default below so they are documented where operators look
(tests/infra keeps the two equal). Override any of them with `-c key=value`; list and object
values (`mec_sites`) take JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Self

from aws_cdk import aws_logs as logs
from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mecroute.domain.errors import problems_line
from mecroute.mec.profiles import DEFAULT_SITES, PROFILES

# CloudWatch Logs accepts only these retention periods (days).
RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
}
MEC_NODE_PORT = 8080
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags and the defaults below), for runs without the CLI.

    `cdk synth` passes this context itself, and context the CLI passes takes precedence over
    an App's own, so `python app.py` and `cdk synth` build the same thing.
    """
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


class MecSite(BaseModel):
    """One MEC site: a Fargate service running one node profile (mecroute.mec.profiles)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    site: str = Field(description="The node's --profile: its access network comes from there.")
    slots: int = Field(ge=1, le=64)
    queue_limit: int = Field(ge=0)
    speed_factor: float = Field(gt=0)
    site_rtt_ms: float = Field(ge=0)
    memory_budget_mb: float = Field(ge=0)
    preload: list[str] = Field(default_factory=list)
    # Fargate size. The zoo's models are a few MB, so the smallest arm64 task serves them;
    # memory_budget_mb is the simulated budget the node evicts against, not this.
    cpu: Literal[256, 512, 1024, 2048, 4096] = 512
    memory_mib: int = Field(default=1024, ge=512, le=30720)
    max_tasks: int = Field(default=2, ge=1, le=10)

    @model_validator(mode="after")
    def _known_profile(self) -> Self:
        if self.site not in PROFILES:
            raise ValueError(f"site {self.site!r} is not a node profile: {sorted(PROFILES)}")
        return self


def _default_sites() -> list[MecSite]:
    return [
        MecSite(
            node_id=p.node_id,
            site=p.site,
            slots=p.slots,
            queue_limit=p.queue_limit,
            speed_factor=p.speed_factor,
            site_rtt_ms=p.site_rtt_ms,
            memory_budget_mb=p.memory_budget_mb,
            preload=list(p.preload),
        )
        for p in DEFAULT_SITES
    ]


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    cloud_provider: Literal["bedrock", "simulator"] = "bedrock"
    bedrock_model_id: str = Field(
        default="anthropic.claude-3-haiku-20240307-v1:0", pattern=r"^[a-z0-9.:-]{3,128}$"
    )
    deploy_fleet: bool = True
    mec_sites: list[MecSite] = Field(default_factory=_default_sites, min_length=1)
    nat_gateways: int = Field(default=1, ge=1, le=3)
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    api_auth: Literal["iam", "api_key"] = "iam"
    api_rate_limit: float = Field(default=50.0, gt=0, description="Steady requests/s, per stage.")
    api_burst_limit: int = Field(default=100, gt=0)
    api_quota_per_day: int = Field(default=100_000, gt=0, description="api_key mode only.")
    # The CloudWatch role is an account-wide API Gateway setting; turn this off when the
    # account already has one, or another stack manages it.
    api_cloudwatch_role: bool = True
    waf_rate_limit_per_5min: int = Field(default=2000, ge=10, description="Per client IP.")
    log_retention_days: int = 30
    # Per function (about 13 of them): leaves unreserved capacity on the default 1,000 limit.
    lambda_reserved_concurrency: int | None = Field(default=50, ge=1)
    alarm_latency_sla_ms: dict[str, float] = Field(
        default_factory=lambda: {"device": 50.0, "mec": 200.0, "cloud": 3000.0},
        description="p99 latency above which a tier's alarm fires (the design's targets).",
    )

    deployment_config: Literal[
        "Canary10Percent5Minutes",
        "Canary10Percent10Minutes",
        "Linear10PercentEvery1Minute",
        "AllAtOnce",
    ] = Field(
        default="Canary10Percent5Minutes",
        description="How a deploy shifts the agents' aliases and the state machine's.",
    )
    canary_error_rate_pct: float = Field(
        default=10.0, gt=0, le=100, description="A new agent version failing this share rolls back."
    )
    canary_pipeline_failures: int = Field(
        default=5, ge=1, description="Failed executions a minute that roll a new pipeline back."
    )
    budget_monthly_usd: float = Field(
        default=100.0, gt=0, description="AWS Budgets: the stack's monthly cost, alerted at 80%."
    )
    budget_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    alarm_routing_overhead_p95_ms: float = Field(
        default=270.0,
        gt=0,
        description="p95 of the states' own time above which the routing-overhead alarm fires "
        "(the regional path's published estimate, docs: DESIGN.md).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.log_retention_days not in RETENTION_BY_DAYS:
            raise ValueError(f"log_retention_days must be one of {sorted(RETENTION_BY_DAYS)}")
        node_ids = [site.node_id for site in self.mec_sites]
        if len(set(node_ids)) != len(node_ids):
            raise ValueError("mec_sites node_id values must be unique")
        return self

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION_BY_DAYS[self.log_retention_days]

    @classmethod
    def from_context(cls, node: Node) -> AppConfig:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            value = node.try_get_context(name)
            if value is None:
                continue
            # `-c mec_sites='[...]'` arrives as a string; cdk.json gives real JSON.
            if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
                value = json.loads(value)
            values[name] = value
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ValueError(f"invalid CDK context: {problems_line(error)}") from None
