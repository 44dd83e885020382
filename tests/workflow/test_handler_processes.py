"""The pipeline with its handlers in worker processes, as `mecroute serve` runs it: the same
answers, the same named errors for the ASL's Catch, records stored off the caller's path, and
a worker that dies fails its invocations as Lambda reports an exited runtime."""

import json
import os
import signal
from collections.abc import Iterator

import pytest

from mecroute.adapters.aws import client
from mecroute.local.runtime import OfflineRuntime


@pytest.fixture(scope="module")
def runtime() -> Iterator[OfflineRuntime]:
    with OfflineRuntime(time_scale=0.1, handler_processes=2) as started:
        yield started


def test_a_request_runs_through_the_workers_and_is_recorded(runtime: OfflineRuntime):
    run = runtime.run({"prompt": "What is the capital of France?", "privacy": "strict"})

    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None
    assert run.output["result"]["tier"] in {"device", "mec"}
    assert "RecordOutcome" in run.states
    # RecordOutcome's asynchronous event ran the monitor in a worker, which stored the record
    record = runtime.decision_record(run.request_id)
    assert record is not None
    assert record["status"] == "succeeded"
    assert runtime.lambdas is not None
    agents = [agent for agent, ok in runtime.lambdas.invocations if ok]
    assert {"context", "resource", "router", "cache", "execute", "monitor"} <= set(agents)


def test_a_handler_error_in_a_worker_reaches_the_catch_by_its_name(runtime: OfflineRuntime):
    run = runtime.run({"prompt": "hi", "sla": {"max_latency_ms": 1}})

    assert run.status == "FAILED"
    assert run.error == "InvalidRequest"
    problems = json.loads(json.loads(run.cause or "{}")["errorMessage"])["problems"]
    assert problems[0]["field"] == "sla.max_latency_ms"
    assert runtime.decision_record(run.request_id)["error"] == "InvalidRequest"


def test_a_dead_worker_fails_its_invocations_as_an_exited_runtime():
    with OfflineRuntime(time_scale=0.1, handler_processes=1) as runtime:
        assert runtime.lambdas is not None
        assert runtime.lambdas.processes is not None
        (pid,) = runtime.lambdas.processes.pids
        os.kill(pid, signal.SIGKILL)

        run = runtime.run({"prompt": "What is 2 + 2?", "privacy": "strict"})
        events = client("stepfunctions").get_execution_history(executionArn=run.execution_arn)

    # Every invocation fails, named as Lambda names it, nothing waits forever; recording the
    # failure fails too, so the task is parked for redrive, as with any monitor outage
    errors = {
        details.get("error")
        for event in events["events"]
        for key, details in event.items()
        if key.endswith("FailedEventDetails")
    }
    assert "Runtime.ExitError" in errors
    assert (run.status, run.error) == ("FAILED", "RecordNotStored")
