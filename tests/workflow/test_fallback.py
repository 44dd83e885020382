"""A MEC node that dies mid-request: the state machine moves to the next fallback."""

from tests.reliability.faults import Handler, handler_wrapped, node_serving

from mecroute.local.runtime import OfflineRuntime


def test_node_killed_mid_request_falls_back_and_history_shows_it(runtime: OfflineRuntime):
    # Given: the execute agent's first call finds its target node killed just before it runs
    killed: list[str] = []

    def killing_the_target_first(real_execute: Handler) -> Handler:
        def execute(event, context):
            target = event["target"]
            if not killed and target["tier"] == "mec":
                node = node_serving(runtime, target["endpoint"])
                node.process.kill()
                node.process.wait()
                killed.append(target["node_id"])
            return real_execute(event, context)

        return execute

    with handler_wrapped(runtime, "execute", killing_the_target_first):
        # When: a request that the router sends to a MEC node (strict: never the cloud)
        run = runtime.run(
            {"prompt": "Summarise: the meeting moved to Tuesday at noon.", "privacy": "strict"}
        )

    # Then: the request is served by the next candidate and the history shows the fallback
    assert killed, "the router did not pick a MEC node first"
    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None
    assert run.output["result"]["node_id"] != killed[0]
    assert run.states.count("Execute") == 2
    assert "RecordAttemptFailure" in run.states
    failures = run.output["failures"]
    assert len(failures) == 1
    assert killed[0] in failures[0]["candidate"]
    assert failures[0]["error"] == "TierUnavailable"


def test_a_dead_node_is_marked_unhealthy_and_not_routed_to(runtime: OfflineRuntime):
    # The node killed above stays dead for the rest of this module.
    dead = {n.profile.node_id for n in runtime.nodes if n.process.poll() is not None}
    assert dead

    run = runtime.run({"prompt": "Summarise: lunch is at one."})

    assert run.output is not None
    rejected = run.output["decision"]["rejected"]
    assert any(
        r["constraint"] == "health" and any(d in r["candidate"] for d in dead) for r in rejected
    )
    assert all(c["node_id"] not in dead for c in run.output["decision"]["candidates"])
