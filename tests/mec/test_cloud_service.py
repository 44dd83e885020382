"""The offline cloud tier as its own service: a real bedrock-runtime client (the deployed code
path) over HTTP on 127.0.0.1 gets the in-process simulator's answers and Bedrock's errors."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest

from mecroute.adapters.aws import BEDROCK_CONFIG
from mecroute.adapters.cloud import BedrockCloud, CloudSimulator, LocalBedrockRuntime, Throttle
from mecroute.adapters.files import DirectoryArtifactStore, DirectoryRegistry
from mecroute.adapters.onnx_engine import TIER_THREADS
from mecroute.adapters.ports import CloudCall
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.adapters.web import Served
from mecroute.domain.errors import TierUnavailable
from mecroute.local.cloud_service import cloud_app
from mecroute.local.runtime import ZOO_DIR
from mecroute.mec.zoo import build_zoo

CLOUD_MODEL = "cloud-frontier-v1"
CALL = CloudCall(CLOUD_MODEL, "Explain why the sky is blue in two sentences.", 64)


def simulator(seed: int, throttle: Throttle | None = None) -> LocalBedrockRuntime:
    build_zoo(ZOO_DIR)
    models = VerifiedModels(DirectoryArtifactStore(ZOO_DIR), threads=TIER_THREADS["cloud"])
    return LocalBedrockRuntime(
        DirectoryRegistry(ZOO_DIR), models, throttle=throttle, rng=random.Random(seed)
    )


def remote(runtime: LocalBedrockRuntime) -> Iterator[BedrockCloud]:
    served = Served(cloud_app(runtime)).start()
    try:
        client = boto3.client(
            "bedrock-runtime",
            endpoint_url=served.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=BEDROCK_CONFIG,
        )
        yield BedrockCloud(client, None)  # addressed by the registry's model id
    finally:
        served.stop()


@pytest.fixture
def cloud() -> Iterator[BedrockCloud]:
    yield from remote(simulator(7))


def test_the_service_answers_as_the_simulator_does_in_process(cloud: BedrockCloud) -> None:
    over_http = cloud.converse(CALL)
    in_process = CloudSimulator(simulator(7)).converse(CALL)  # the same draws

    assert over_http.output == in_process.output
    assert over_http.input_tokens == in_process.input_tokens
    assert over_http.output_tokens == in_process.output_tokens <= 64
    assert over_http.latency_ms > 0  # modelled, plus the measured inference: not replayable


def test_an_unknown_model_is_refused_as_bedrock_refuses_it(cloud: BedrockCloud) -> None:
    with pytest.raises(TierUnavailable, match=r"^Bedrock failed: ValidationException$"):
        cloud.converse(CloudCall("no-such-model", "hello", 8))


def test_a_throttled_service_fails_exactly_as_bedrock_does() -> None:
    for throttled in remote(simulator(7, throttle=Throttle(0, 0))):
        with pytest.raises(TierUnavailable, match=r"^Bedrock throttled: ThrottlingException$"):
            throttled.converse(CALL)
