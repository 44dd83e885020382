"""Fuzzing fixtures: the handlers in-process against moto (DynamoDB, S3, Kinesis), and a tally
of generated cases that the terminal summary reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from mecroute.adapters.aws import reset_clients
from mecroute.local.lambdas import AGENTS, Handler, load_handler
from mecroute.local.names import Names
from mecroute.local.runtime import REGION, ZOO_DIR
from mecroute.local.seed import create_resources

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
# Cases each fuzz test generated, by test: the closing note and CI read the total.
GENERATED: Counter[str] = Counter()


@dataclass(frozen=True)
class Aws:
    names: Names
    handlers: dict[str, Handler]


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """moto in-process (mock_aws: no server, no HTTP) with the offline resources, and every
    handler imported inside it (settings and clients load at import)."""
    names = Names()
    environment = {
        **names.moto_environment(REGION),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        reset_clients()
        with mock_aws():
            create_resources(names, ZOO_DIR)
            handlers = {
                source: load_handler(LAMBDAS_DIR, source)
                for source in (*AGENTS, "api_reads", "feedback")
            }
            yield Aws(names, handlers)
        reset_clients()


def fuzz(cases: int, *also_suppressed: HealthCheck) -> settings:
    """Fuzzing settings: a fixed number of cases, no deadline (moto shares the machine), and
    the same cases on every run (derandomised), so a CI run cannot pass or fail by its seed."""
    return settings(
        max_examples=cases,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, *also_suppressed],
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if GENERATED:
        total = sum(GENERATED.values())
        terminalreporter.write_line(
            f"fuzz: {total} generated cases ("
            + ", ".join(f"{name} {count}" for name, count in sorted(GENERATED.items()))
            + ")"
        )
