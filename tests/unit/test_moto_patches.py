"""The offline runtime's moto patches: Lambda and SQS task states share one client."""

import boto3
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from mecroute.local.moto_patches import speed_up_moto


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
