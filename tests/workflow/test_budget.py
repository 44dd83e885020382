"""A caller's spend budget through the deployed ASL (offline): once its day is spent, a request
is routed to a cheaper tier when one is allowed, and refused with BudgetExceeded (402) naming the
budget and its reset when only the spent tier would do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mecroute.domain.errors import HTTP_STATUS_BY_ERROR
from mecroute.domain.spend import TENANTS_FILE_VARIABLE
from mecroute.local.runtime import OfflineRuntime

CLOUD = "cloud-frontier-v1"
HARD = (
    "Prove step by step that there are infinitely many primes, then compare two proofs and "
    "explain which one generalises to primes in arithmetic progressions."
)
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineRuntime]:
    """A runtime whose tenants file gives alice $0.0003 a day (a few cloud answers)."""
    tenants = tmp_path_factory.mktemp("tenants") / "tenants.json"
    tenants.write_text(json.dumps({"budgets": {"alice": {"daily_usd": 0.0003}}}))
    patch = pytest.MonkeyPatch()
    patch.setenv(TENANTS_FILE_VARIABLE, str(Path(tenants)))
    try:
        with OfflineRuntime(time_scale=0.1) as started:
            yield started
    finally:
        patch.undo()


def test_a_spent_budget_routes_cheaper_then_refuses_with_402(budgeted: OfflineRuntime) -> None:
    # Given alice's requests that the router sends to the cloud while her budget lasts
    tiers = []
    for index in range(10):
        run = budgeted.run({"prompt": f"{HARD} ({index})", "user_id": "alice"})
        assert run.status == "SUCCEEDED", run.cause
        assert run.output is not None
        tiers.append(run.output["result"]["tier"])
        if tiers[-1] != "cloud":
            break
    # Then once it cannot pay for another cloud answer, a cheaper tier serves her
    assert tiers[0] == "cloud"
    assert tiers[-1] != "cloud"
    removed = [r for r in run.output["decision"]["rejected"] if r["constraint"] == "caller_budget"]
    assert any(r["candidate"].startswith("cloud/") for r in removed)
    assert "caller alice's daily budget $0.0003" in removed[0]["detail"]

    # and a request only the cloud may serve is refused, naming the budget and its reset
    run = budgeted.run(
        {"prompt": HARD, "user_id": "alice", "model_preference": CLOUD, "pin_model": True}
    )
    assert (run.status, run.error) == ("FAILED", "BudgetExceeded")
    assert HTTP_STATUS_BY_ERROR["BudgetExceeded"] == 402
    assert run.cause is not None
    assert "caller alice's daily budget $0.0003" in run.cause
    assert "resets 20" in run.cause  # an ISO date
    assert "RecordNoRoute" in run.states

    # Another caller, without a budget, is not affected
    run = budgeted.run({"prompt": HARD, "user_id": "bob", "model_preference": CLOUD,
                        "pin_model": True})  # fmt: skip
    assert run.status == "SUCCEEDED", run.cause
