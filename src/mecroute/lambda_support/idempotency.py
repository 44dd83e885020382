"""At most once per key: powertools idempotency on the DynamoDB idempotency table, set up in one
place, its DynamoDB client built at the first keyed call rather than at cold start."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from mecroute.adapters.aws import CLIENT_CONFIG

Data = TypeVar("Data")
Out = TypeVar("Out", bound=BaseModel)


class Once(Generic[Data, Out]):
    """`once(data)` runs `function(data)` at most once per key taken from `data` (JMESPath
    `key`); a repeat within `ttl_s` gets the stored `output` back. `payload` (JMESPath) must
    match too, else powertools raises IdempotencyValidationError. The stored keys name
    `function` (module and name), so it is passed as it is, by its parameter's name."""

    def __init__(
        self,
        function: Callable[[Data], Out],
        *,
        data_keyword: str,
        output: type[Out],
        table: str,
        key: str,
        ttl_s: int,
        payload: str = "",
    ) -> None:
        self.function = function
        self.data_keyword = data_keyword
        self.output = output
        self.table = table
        self.config = IdempotencyConfig(
            event_key_jmespath=key, payload_validation_jmespath=payload, expires_after_seconds=ttl_s
        )
        self._run: Callable[..., Out] | None = None

    def __call__(self, data: Data) -> Out:
        if self._run is None:
            # Powertools' decorator is untyped; built here, the call keeps its signature.
            self._run = idempotent_function(
                self.function,
                data_keyword_argument=self.data_keyword,
                persistence_store=DynamoDBPersistenceLayer(
                    table_name=self.table, boto_config=CLIENT_CONFIG
                ),
                config=self.config,
                # An instance, not the class: the class would read the return annotation.
                output_serializer=PydanticSerializer(model=self.output),
            )
        return self._run(**{self.data_keyword: data})

    def registering(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """`handler`, telling powertools each invocation's context (for its in-progress expiry)."""

        @functools.wraps(handler)
        def registered(event: Any, context: Any) -> Any:
            self.config.register_lambda_context(context)
            return handler(event, context)

        return registered
