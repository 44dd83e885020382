"""The offline runtime's moto patches: Lambda and SQS task states share one client; the
interpreter's copies of state data."""

import datetime

import boto3
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from mecroute.local.moto_patches import copy_json, speed_up_moto


def test_task_states_reuse_one_lambda_client_whatever_credentials_moto_passes():
    # Given the patches moto gets in the offline runtime
    speed_up_moto()
    # When two task states ask for a Lambda client, each with its state's credentials
    first = lambda_eval_utils.boto_client_for(
        region="us-east-1", service="lambda", state_credentials=object()
    )
    second = lambda_eval_utils.boto_client_for(
        region="us-east-1", service="lambda", state_credentials=object()
    )
    # Then they get the same client (moto builds it with fixed dummy keys either way)
    assert first is second
    other_region = lambda_eval_utils.boto_client_for(region="eu-west-1", service="lambda")
    assert other_region is not first


def test_a_new_runtime_gets_clients_of_its_own(monkeypatch):
    # Given a client built for one offline runtime
    speed_up_moto()
    old = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
    # When the next runtime starts moto on another port, with a new default session
    monkeypatch.setenv("MOTO_PORT", "5999")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.Session())
    new = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
    # Then its tasks reach its own moto server and its own in-process handlers
    assert new is not old
    assert new.meta.endpoint_url.endswith(":5999")


def test_the_interpreter_copies_json_values_deeply_and_anything_else_as_deepcopy_does():
    # Given a state's data, with a value that is no JSON (a copy must not share it either)
    when = datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC)
    data = {"a": [1, 2.5, {"b": None, "c": True}], "s": "x", "when": [when], "t": ({"u": 1},)}
    # When it is copied
    copied = copy_json(data)
    # Then the copy is equal and nothing mutable is shared with the original
    assert copied == data
    copied["a"][2]["b"] = "changed"
    copied["t"][0]["u"] = 2
    assert data["a"][2]["b"] is None
    assert data["t"][0]["u"] == 1
    assert copied["a"] is not data["a"]
