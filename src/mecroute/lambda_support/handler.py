"""The one decorator every Lambda handler wears: logger context, metrics, tracer (responses not
captured), then the event parsed into its pydantic task, and idempotency registered when the
function has it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import TypeAdapter

from mecroute.lambda_support.observability import logger, metrics, tracer
from mecroute.lambda_support.parsing import parse_task

if TYPE_CHECKING:
    # Only the handlers with idempotency (execute, feedback) load powertools' layer for it.
    from mecroute.lambda_support.idempotency import Once

Task = TypeVar("Task")
Result = TypeVar("Result")
Entry = Callable[[Any, Any], Any]


@overload
def lambda_handler(
    task: None = None, *, once: Once[Any, Any] | None = None
) -> Callable[[Entry], Entry]: ...
@overload
def lambda_handler(
    task: type[Task] | TypeAdapter[Task], *, once: Once[Any, Any] | None = None
) -> Callable[[Callable[[Task, Any], Result]], Entry]: ...
def lambda_handler(
    task: type[Any] | TypeAdapter[Any] | None = None, *, once: Once[Any, Any] | None = None
) -> Callable[[Callable[[Any, Any], Any]], Entry]:
    """`task`: the model the event is parsed into (an unfit event raises InvalidRequest naming
    each field); None hands the raw event on (API and stream handlers parse their own)."""

    def decorate(function: Callable[[Any, Any], Any]) -> Entry:
        inner: Entry = function if task is None else parse_task(task)(function)
        if once is not None:
            inner = once.registering(inner)
        traced = tracer.capture_lambda_handler(capture_response=False)(inner)
        handler: Entry = logger.inject_lambda_context(metrics.log_metrics(traced))
        return handler

    return decorate
