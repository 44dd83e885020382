"""Shared fixtures for the simulator's tests: the model zoo's registry entries."""

import pytest

from mecroute.domain.registry import ModelSpec
from mecroute.local.runtime import ZOO_DIR
from mecroute.mec.zoo import build_zoo


@pytest.fixture(scope="session")
def models() -> list[ModelSpec]:
    return [spec for spec, _ in build_zoo(ZOO_DIR)]
