"""The campaign's hostile requests: as many as asked for, every kind the review sent, and each
one the route's own model refuses unless it is labelled legal."""

import json

from suite.hostile import CHAT, INFERENCE, JSON, campaign, is_valid

KINDS = {
    "malformed JSON", "wrong type/value", "missing field", "extra field",
    "oversized/boundary prompt", "odd unicode", "wrong content type", "wrong method",
    "bad/absent credentials", "huge SLA", "bad identifier/idempotency key", "unknown route",
    "several fields wrong", "bad routing header",
}  # fmt: skip


def test_the_campaign_has_every_kind_on_both_routes_and_as_many_as_asked() -> None:
    cases = campaign(1200, seed=17)

    assert len(cases) == 1200
    assert {case.category for case in cases} == KINDS
    assert {case.path for case in cases} >= {INFERENCE, CHAT}


def test_a_generated_mistake_is_one_the_model_refuses() -> None:
    for case in campaign(1200, seed=17):
        if case.fields and case.headers == JSON:
            body = json.loads(case.body.decode("utf-8", "surrogatepass"))
            assert not is_valid(case.path, body), case
        if case.valid:
            assert is_valid(case.path, json.loads(case.body)), case
