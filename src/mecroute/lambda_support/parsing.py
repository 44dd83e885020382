"""Parse a handler's event into its pydantic task; an event that does not fit is rejected with
the named InvalidRequest (each field and its problem), never a bare ValidationError.

Used in place of powertools' `event_parser`, whose ValidationError would reach Step Functions
as an unnamed `ValidationError` with pydantic's text for a cause.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from mecroute.domain.errors import InvalidRequest

Task = TypeVar("Task")
Result = TypeVar("Result")


def parse_task(
    model: type[Task] | TypeAdapter[Task],
) -> Callable[[Callable[[Task, Any], Result]], Callable[[Any, Any], Result]]:
    adapter: TypeAdapter[Task] = model if isinstance(model, TypeAdapter) else TypeAdapter(model)

    def decorate(handler: Callable[[Task, Any], Result]) -> Callable[[Any, Any], Result]:
        @functools.wraps(handler)
        def parsed(event: Any, context: Any) -> Result:
            if not isinstance(event, dict):
                problem = f"must be a JSON object, not {type(event).__name__}"
                raise InvalidRequest([{"field": "(event)", "problem": problem}])
            try:
                task = adapter.validate_python(event)
            except ValidationError as error:
                raise InvalidRequest.from_validation_error(error) from None
            return handler(task, context)

        return parsed

    return decorate
