"""Rules of the request schemas that pydantic checks in code (validators) but would not write into the JSON
schema by itself: written here, so /openapi.json states them and a request the document admits is not
rejected for its shape (shared API.md, "Errors and the OpenAPI document")."""

from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic_core import CoreSchema

NO_NUL = r"^[^\x00]*$"  # app.api.schemas.storable: no store keeps NUL in text
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"  # and at least one character that is not whitespace



def alongside(*alternatives: dict[str, Any]) -> dict[str, Any]:
    """A rule across fields, as ``allOf: [{anyOf: alternatives}]`` beside the object's own ``properties``: the
    same meaning as a top-level ``anyOf``, but a generator (openapi-python-client 0.29) then builds the model
    from ``properties``; a top-level ``anyOf`` it takes for a union of the alternatives alone and drops every
    other field (``InteractionIn`` without ``user_id``)."""
    return {"allOf": [{"anyOf": list(alternatives)}]}


# POST /v1/conversations/{id}/messages: a message says something (text) or reacts (feedback), or both.
TEXT_OR_FEEDBACK = alongside(
    {"required": ["text"], "properties": {"text": {"type": "string"}}},
    {"required": ["feedback"], "properties": {"feedback": {"minItems": 1}}},  # no "type": generators need
    # an array's items with its type (openapi-python-client refused the schema)
)


class SchemaPattern:
    """Annotated metadata: add a `pattern` to a string's JSON schema that a validator already enforces (with
    its own message naming the field), rather than a second, regex-worded check."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


def rating_needs_a_value(event_types: tuple[str, ...]) -> dict[str, Any]:
    """An interaction of type rating carries a value from 1 to 5; other types an optional weight."""
    others = [t for t in event_types if t != "rating"]
    return alongside(
        {"required": ["type", "value"],
         "properties": {"type": {"const": "rating"}, "value": {"type": "number", "minimum": 1, "maximum": 5}}},
        {"properties": {"type": {"enum": others}}},
    )


class KeysAsPropertyNames:
    """Annotated metadata for a dict whose keys have a pattern: pydantic writes it as `patternProperties`
    (keys that do not match would then be allowed with any value); this states it as `propertyNames`."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema = handler(core_schema)
        if "patternProperties" in schema:
            [(pattern, values)] = schema.pop("patternProperties").items()
            schema["additionalProperties"] = values
            schema.setdefault("propertyNames", {})["pattern"] = pattern
        return schema


def json_integer(value: Any) -> Any:
    """Before an integer field's own (lax) check: a JSON number, not a boolean or a string of digits."""
    if isinstance(value, bool | str):
        raise ValueError("must be an integer (a JSON number)")
    return value
