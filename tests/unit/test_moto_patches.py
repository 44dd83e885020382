"""The offline runtime's moto patches: Lambda and SQS task states share one client."""

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
