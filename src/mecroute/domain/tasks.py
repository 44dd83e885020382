"""The payload each state of the pipeline hands its agent (built by the ASL's Parameters)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mecroute.domain.messages import (
    AttemptFailure,
    CachePlan,
    Candidate,
    ContextAnalysis,
    ExecutionResult,
    MonitorRecord,
    ResourceSnapshot,
    RoutingDecision,
)
from mecroute.domain.request import Privacy, ServiceLevel


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class AnalyzeContextTask(Task):
    request_id: str = Field(min_length=1, max_length=128)
    # Left raw on purpose: the context agent validates it and names every bad field.
    request: Any


class AssessResourcesTask(Task):
    context: ContextAnalysis


class RouteRequestTask(Task):
    context: ContextAnalysis
    resources: ResourceSnapshot


class PrepareModelTask(Task):
    context: ContextAnalysis
    target: Candidate


class ExecuteTask(Task):
    context: ContextAnalysis
    target: Candidate
    plan: CachePlan


class StepFunctionsError(Task):
    """What a Catch puts at its ResultPath."""

    Error: str
    Cause: str = ""


class Attempts(Task):
    """The fallback loop's cursor: which candidate is next and what failed so far."""

    index: int = Field(ge=0)
    count: int = Field(ge=0)
    failures: list[AttemptFailure] = Field(default_factory=list)


class AttemptFailedTask(Task):
    action: Literal["attempt_failed"]
    request_id: str
    target: Candidate
    error: StepFunctionsError
    attempts: Attempts
    # Step Functions' `$$.State.EnteredTime` of SelectCandidate and RecordAttemptFailure:
    # the wall time the failed attempt cost the caller.
    started_at: str | None = None
    failed_at: str | None = None


class RequestSummary(Task):
    """What recording a request needs of it: who sent it, what it asked of the route, and its
    prompt's hash, never the prompt. The Record* states pass this, not the request context,
    so a task parked in the record dead-letter queue (kept 14 days in the region) carries no
    `strict` or `regional` prompt; the hash still ties it to the request."""

    request_id: str = Field(min_length=1, max_length=128)
    user_id: str
    sla: ServiceLevel
    privacy: Privacy = Field(description="The effective privacy the route was held to.")
    prompt_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @classmethod
    def of(cls, context: ContextAnalysis) -> RequestSummary:
        return cls(
            request_id=context.request_id,
            user_id=context.request.user_id,
            sla=context.request.sla,
            privacy=context.effective_privacy,
            prompt_sha256=context.prompt_sha256,
        )


class SummarisedTask(Task):
    """A record task about a request, which it names by its summary."""

    request: RequestSummary

    @model_validator(mode="before")
    @classmethod
    def _summarise_a_context(cls, data: Any) -> Any:
        """A task parked before the summary existed carries the whole context: summarise it
        (dropping the prompt) so that it can still be redriven."""
        if isinstance(data, dict) and "context" in data and "request" not in data:
            data = dict(data)
            context = ContextAnalysis.model_validate(data.pop("context"))
            data["request"] = RequestSummary.of(context)
        return data


class SucceededTask(SummarisedTask):
    action: Literal["succeeded"]
    decision: RoutingDecision
    result: ExecutionResult
    failures: list[AttemptFailure] = Field(default_factory=list)
    # Step Functions' `$$.Execution.StartTime` and the record state's `$$.State.EnteredTime`:
    # the pipeline's wall time, of which the states' own time is the routing overhead.
    started_at: str | None = None
    finished_at: str | None = None
    # API Gateway's `$context.requestTimeEpoch` (the local API's own arrival stamp): when set,
    # the time counts from here, API Gateway's share included.
    arrived_at_ms: int | None = Field(default=None, ge=0)
    # The edge gateway's measured wall time in the tiers (every attempt): the rest of the
    # pipeline's time is its own, a floor under the routing overhead where a tier's compute
    # is modelled rather than waited for (the offline nodes at time scale 0).
    tiers_wall_ms: float | None = Field(default=None, ge=0)


class FailedTask(SummarisedTask):
    action: Literal["failed"]
    error: Literal["NoFeasibleRoute", "BudgetExceeded", "NoTierAvailable"]
    decision: RoutingDecision
    failures: list[AttemptFailure] = Field(default_factory=list)


class RejectedTask(Task):
    """`rejected`: the request was invalid; `errored`: the pipeline failed before routing
    (or on a reused idempotency key), so there is no decision to record, only the error."""

    action: Literal["rejected", "errored"]
    request_id: str
    error: StepFunctionsError


class StoreTask(Task):
    """RecordOutcome's asynchronous event: the answer the caller already has, to be stored with
    its stream events off the caller's path."""

    action: Literal["store"]
    record: MonitorRecord


MonitorTask = Annotated[
    AttemptFailedTask | SucceededTask | FailedTask | RejectedTask | StoreTask,
    Field(discriminator="action"),
]
RecordTask = Annotated[
    SucceededTask | FailedTask | RejectedTask | StoreTask, Field(discriminator="action")
]


class UnrecordedTask(Task):
    """A Record* state's task parked in the record dead-letter queue by the state machine
    after the monitor agent itself kept failing (crashed, timed out), or after RecordOutcome
    could not hand its event to Lambda. It names the request by its summary (no prompt)."""

    unrecorded_task: RecordTask
    # What failed: the error name of the monitor's (or Lambda's) last failure, never its
    # cause, which may quote the task it failed on. And when the task was parked.
    failed: str | None = None
    parked_at: str | None = None


class InvocationContext(BaseModel):
    """The part of a Lambda destination record that says why the event was given up on."""

    # Only a redrive reads these: built on first use, not in every agent's cold start.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    request_id: str = Field(alias="requestId")
    condition: str  # RetriesExhausted or EventAgeExceeded
    invoke_count: int = Field(ge=1, alias="approximateInvokeCount")


class FailedInvocation(BaseModel):
    """What Lambda delivers to the monitor's on-failure destination (the record dead-letter
    queue) once an asynchronous RecordOutcome event exhausted its retries or its age:
    `requestPayload` is the event itself, so a redrive records it."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    request_context: InvocationContext = Field(alias="requestContext")
    request_payload: StoreTask = Field(alias="requestPayload")
