"""Turns a pydantic model's JSON schema into the draft-4 subset API Gateway validates against.

Pydantic writes JSON Schema 2020-12: shared sub-models under `$defs` reached by `$ref`,
numeric `exclusiveMinimum`, `const`. API Gateway request models are draft 4: references are
inlined, exclusive bounds become the boolean draft-4 form, and keywords that only annotate are
dropped. A validation keyword this module does not know raises instead of being dropped, so
a new constraint on the request model can never be silently weakened at the API.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

DRAFT4 = "http://json-schema.org/draft-04/schema#"

# Keywords draft 4 defines that API Gateway's validator honours, copied through as they are.
_DRAFT4_VALIDATION = frozenset(
    {
        "type",
        "enum",
        "required",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "multipleOf",
        "format",
    }
)
_DRAFT4_ANNOTATION = frozenset({"title", "description", "default"})
# Keywords that hold sub-schemas, by shape.
_SCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties"})
# Annotations newer drafts added; they never change what validates, so dropping them is safe.
_DROPPED = frozenset({"examples", "deprecated", "readOnly", "writeOnly", "$comment"})


class UnsupportedSchema(ValueError):
    """The schema uses a keyword the draft-4 conversion cannot express faithfully."""


def api_gateway_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The draft-4 request schema for `model`, self-contained (no `$ref`)."""
    return to_draft4(model.model_json_schema())


def to_draft4(schema: dict[str, Any]) -> dict[str, Any]:
    definitions: dict[str, Any] = schema.get("$defs", {})
    converted = _convert(schema, definitions, seen=())
    return {"$schema": DRAFT4, **converted}


def _convert(
    node: dict[str, Any], definitions: dict[str, Any], seen: tuple[str, ...]
) -> dict[str, Any]:
    if "$ref" in node:
        return _inline(node, definitions, seen)
    result: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in ("$defs", "$schema") or keyword in _DROPPED:
            continue
        if keyword == "default" and value is None:
            continue  # says no more than an absent default (and CDK's JsonSchema drops it)
        if keyword in _DRAFT4_VALIDATION or keyword in _DRAFT4_ANNOTATION:
            result[keyword] = value
        elif keyword == "const":
            result["enum"] = [value]
        elif keyword in ("exclusiveMinimum", "exclusiveMaximum"):
            # Draft 6+ gives the bound itself; draft 4 flags `minimum`/`maximum` as exclusive.
            bound = "minimum" if keyword == "exclusiveMinimum" else "maximum"
            result[bound] = value
            result[keyword] = True
        elif keyword in _SCHEMA_LISTS:
            result[keyword] = [_convert(item, definitions, seen) for item in value]
        elif keyword in _SCHEMA_MAPS:
            result[keyword] = {
                name: _convert(sub, definitions, seen) for name, sub in value.items()
            }
        elif keyword in ("items", "additionalProperties", "not"):
            result[keyword] = (
                value if isinstance(value, bool) else _convert(value, definitions, seen)
            )
        else:
            raise UnsupportedSchema(f"JSON-schema keyword {keyword!r} has no draft-4 equivalent")
    return result


def _inline(
    node: dict[str, Any], definitions: dict[str, Any], seen: tuple[str, ...]
) -> dict[str, Any]:
    reference: str = node["$ref"]
    name = reference.removeprefix("#/$defs/")
    if name == reference or name not in definitions:
        raise UnsupportedSchema(f"only local $defs references can be inlined, not {reference!r}")
    if name in seen:
        raise UnsupportedSchema(f"{name} refers to itself; a recursive model cannot be inlined")
    inlined = _convert(definitions[name], definitions, (*seen, name))
    # Keywords beside a $ref (pydantic puts `description` or `default` there) annotate the use.
    siblings = _convert({k: v for k, v in node.items() if k != "$ref"}, definitions, seen)
    return {**inlined, **siblings}
