"""The cloud tier: BedrockCloud against botocore's Stubber, and the local simulator answering
exactly as Bedrock does, so the execute agent cannot tell which one served it."""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mecroute.adapters.cloud import BedrockCloud, CloudSimulator, LocalBedrockRuntime, Throttle
from mecroute.adapters.files import DirectoryArtifactStore, DirectoryRegistry
from mecroute.adapters.onnx_engine import TIER_THREADS
from mecroute.adapters.ports import CloudCall
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.domain.errors import TierUnavailable
from mecroute.domain.estimates import compute_time_ms, estimate_tokens
from mecroute.local.runtime import ZOO_DIR
from mecroute.mec.zoo import build_zoo

BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
CLOUD_MODEL = "cloud-frontier-v1"
PROMPT = "Explain why the sky is blue in two sentences."


Zoo = tuple[DirectoryRegistry, VerifiedModels]


@pytest.fixture(scope="module")
def zoo() -> Zoo:
    build_zoo(ZOO_DIR)
    models = VerifiedModels(DirectoryArtifactStore(ZOO_DIR), threads=TIER_THREADS["cloud"])
    return DirectoryRegistry(ZOO_DIR), models


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def converse_params(model_id: str, max_tokens: int) -> dict[str, Any]:
    return {
        "modelId": model_id,
        "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
        "inferenceConfig": {"maxTokens": max_tokens},
    }


def test_bedrock_answer_is_read_into_tokens_and_latency(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Rayleigh."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 14, "outputTokens": 3, "totalTokens": 17},
            "metrics": {"latencyMs": 412},
        },
        converse_params(BEDROCK_MODEL, 64),
    )

    answer = BedrockCloud(client, BEDROCK_MODEL).converse(CloudCall(CLOUD_MODEL, PROMPT, 64))

    assert (answer.output, answer.input_tokens, answer.output_tokens) == ("Rayleigh.", 14, 3)
    assert answer.latency_ms == 412


def test_bedrock_throttling_is_tier_unavailable(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_client_error(
        "converse", service_error_code="ThrottlingException", http_status_code=429
    )

    with pytest.raises(TierUnavailable, match=r"^Bedrock throttled: ThrottlingException$"):
        BedrockCloud(client, BEDROCK_MODEL).converse(CloudCall(CLOUD_MODEL, PROMPT, 64))


def test_a_throttled_simulator_fails_exactly_as_bedrock_does(
    zoo: Zoo, bedrock: tuple[Any, Stubber]
) -> None:
    client, stubber = bedrock
    stubber.add_client_error(
        "converse", service_error_code="ThrottlingException", http_status_code=429
    )
    with pytest.raises(TierUnavailable) as from_bedrock:
        BedrockCloud(client, BEDROCK_MODEL).converse(CloudCall(CLOUD_MODEL, PROMPT, 64))

    with pytest.raises(TierUnavailable) as from_simulator:
        CloudSimulator(LocalBedrockRuntime(zoo[0], zoo[1], throttle=Throttle(0, 0))).converse(
            CloudCall(CLOUD_MODEL, PROMPT, 64)
        )

    assert str(from_simulator.value) == str(from_bedrock.value)


def test_the_simulators_answer_is_a_valid_converse_response(
    zoo: Zoo, bedrock: tuple[Any, Stubber]
) -> None:
    # Given: what the simulator answers, replayed through a real client (Stubber validates
    # every response against the bedrock-runtime service model)
    client, stubber = bedrock
    local = LocalBedrockRuntime(zoo[0], zoo[1], rng=random.Random(7))
    response = local.converse(**converse_params(CLOUD_MODEL, 64))
    stubber.add_response("converse", response, converse_params(BEDROCK_MODEL, 64))

    # When
    via_bedrock = BedrockCloud(client, BEDROCK_MODEL).converse(CloudCall(CLOUD_MODEL, PROMPT, 64))
    # the same draws as `local`
    simulator = CloudSimulator(LocalBedrockRuntime(zoo[0], zoo[1], rng=random.Random(7)))
    via_simulator = simulator.converse(CloudCall(CLOUD_MODEL, PROMPT, 64))

    # Then: the execute agent receives the same answer either way
    assert via_simulator.output == via_bedrock.output
    assert via_simulator.input_tokens == via_bedrock.input_tokens == estimate_tokens(PROMPT)
    assert via_simulator.output_tokens == via_bedrock.output_tokens <= 64


def test_the_simulators_latency_centres_on_the_registrys_cloud_figure(zoo: Zoo) -> None:
    registry, models = zoo
    (spec,) = [m for m in registry.list_models() if m.model_id == CLOUD_MODEL]
    simulator = LocalBedrockRuntime(registry, models, rng=random.Random(11))

    answers = [simulator.converse(**converse_params(CLOUD_MODEL, 200)) for _ in range(300)]

    # Modelled figures, not wall time: the median matches what the router predicts.
    tokens = answers[0]["usage"]["totalTokens"]
    expected = compute_time_ms(spec.latency_ms, tokens, 1.0)
    latencies = [answer["metrics"]["latencyMs"] for answer in answers]
    assert statistics.median(latencies) == pytest.approx(expected, rel=0.1)
    assert max(latencies) > expected * 1.2  # a tail, as hosted models have


def test_a_throttle_admits_its_burst_then_refuses() -> None:
    throttle = Throttle(requests_per_s=0.001, burst=3)

    assert [throttle.admit() for _ in range(5)] == [True, True, True, False, False]
