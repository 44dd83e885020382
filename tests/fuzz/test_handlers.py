"""Every Lambda handler fed broken events, in-process against moto.

The six agents get their sample state inputs (tests/events) with one thing broken: a field
removed, replaced by any JSON value, an unknown field added, or the whole event replaced. Each
answers or raises a named pipeline error (InvalidRequest naming the field, TierUnavailable,
...): never a KeyError, a TypeError or a bare ValidationError. The two HTTP handlers (reads,
feedback) answer any method, path and body with a JSON 2xx or 4xx, never a 5xx.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.builders import rest_event

from mecroute.domain.errors import InvalidRequest, PipelineError
from mecroute.local.lambdas import FakeLambdaContext

from .conftest import GENERATED, Aws, fuzz

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLES = {
    "context": ["analyze_context"],
    "resource": ["assess_resources"],
    "router": ["route_request"],
    "cache": ["prepare_model"],
    "execute": ["execute_device"],
    "monitor": ["record_outcome", "record_attempt_failure"],
}
CASES_PER_AGENT = 140
CASES_PER_HTTP_HANDLER = 120

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


@st.composite
def broken(draw: st.DrawFn, event: dict[str, Any]) -> Any:
    """`event` with one thing broken."""
    how = draw(st.sampled_from(["remove", "replace", "add", "replace-all"]))
    if how == "replace-all":
        return draw(json_values)
    changed = json.loads(json.dumps(event))
    path = draw(st.sampled_from(paths(changed)))
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "remove" and isinstance(parent, dict):
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[f"unexpected_{draw(st.integers(0, 9))}"] = draw(json_values)
    else:
        parent[last] = draw(json_values)
    return changed


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


@pytest.mark.parametrize("agent", sorted(SAMPLES))
def test_agent_handlers_name_what_is_wrong_with_a_broken_event(aws: Aws, agent: str) -> None:
    handler = aws.handlers[agent]
    events = st.sampled_from(SAMPLES[agent]).flatmap(lambda name: broken(sample(name)))
    counted = f"handler {agent}"

    @fuzz(CASES_PER_AGENT)
    @given(events)
    def case(event: Any) -> None:
        GENERATED[counted] += 1
        named: PipelineError | None = None
        try:
            answer = handler(event, FakeLambdaContext(function_name=f"mecroute-{agent}"))
        except PipelineError as error:  # InvalidRequest, TierUnavailable, ...: routed on by name
            named = error
        else:
            json.dumps(answer)  # what Lambda returns must serialise
        outcomes[type(named).__name__ if named else "answered"] += 1
        if isinstance(named, InvalidRequest):
            assert named.problems
            assert all(p["field"] and p["problem"] for p in named.problems)

    outcomes: Counter[str] = Counter()
    case()
    assert GENERATED[counted] >= CASES_PER_AGENT
    # Both kinds must occur, or the mutations are not probing the handler's validation.
    assert outcomes["InvalidRequest"] > 0, outcomes
    assert outcomes["InvalidRequest"] < sum(outcomes.values()), outcomes


def api_event(method: str, path: str, body: str | None, path_parameters: Any) -> dict[str, Any]:
    resource = "/v1/decisions/{request_id}" if path.startswith("/v1/decisions/") else path
    return rest_event(
        method, path, body, resource=resource, path_parameters=path_parameters, request_id="fuzz-1"
    )


@st.composite
def http_events(draw: st.DrawFn, source: str) -> dict[str, Any]:
    if source == "api_reads":
        request_id = draw(
            st.text(max_size=3000) | st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True)
        )
        path = draw(st.sampled_from(["/v1/models", "/v1/nodes", f"/v1/decisions/{request_id}"]))
        parameters = {"request_id": request_id} if path.startswith("/v1/decisions/") else None
        return api_event("GET", path, None, parameters)
    body = draw(
        st.text(max_size=200)
        | json_values.map(json.dumps)
        | st.fixed_dictionaries(
            {"request_id": st.text(max_size=140), "rating": json_values | st.integers(0, 6)},
            optional={
                "user_id": st.text(max_size=70),
                "comment": st.text(max_size=1100),
                "observed_latency_ms": json_values,
            },
        ).map(json.dumps)
    )
    return api_event("POST", "/v1/feedback", body, None)


@pytest.mark.parametrize("source", ["api_reads", "feedback"])
def test_http_handlers_answer_any_request_with_json_and_no_5xx(aws: Aws, source: str) -> None:
    handler = aws.handlers[source]
    counted = f"handler {source}"

    @fuzz(CASES_PER_HTTP_HANDLER)
    @given(http_events(source))
    def case(event: dict[str, Any]) -> None:
        GENERATED[counted] += 1

        response = handler(event, FakeLambdaContext(function_name=f"mecroute-{source}"))

        assert response["statusCode"] < 500, response
        body = json.loads(response["body"])
        if response["statusCode"] == 400:
            assert body["error"] == "InvalidRequest"
            assert body["problems"]

    case()
    assert GENERATED[counted] >= CASES_PER_HTTP_HANDLER
