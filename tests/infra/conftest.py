"""The app synthesised once per session for tests/infra (see infra_synthesis.py)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template
from infra_synthesis import Synthesis, synthesize


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The default configuration (cdk.json): IAM auth, the Fargate fleet, no alarm e-mail."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesis: Synthesis) -> Template:
    return synthesis.template
