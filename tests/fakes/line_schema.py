"""Request validation against LINE's official OpenAPI description (`reference/line-openapi/`).

OpenAPI's `discriminator` is not JSON Schema, so each schema with a `discriminator.mapping` becomes:
its own properties (the `__base` copy, which the mapped schemas' `allOf` point at, so that
`TextMessage -> Message -> TextMessage` does not recurse), an enum of the known values, and one
`if type == value then $ref mapped schema` per mapping entry. A text message is thus checked
against `TextMessage`.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

# A copy of LINE's official description (Apache-2.0, with its LICENSE), for checkouts without shared/ beside them.
VENDORED_SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "line-openapi" / "messaging-api.yml"
COMPONENTS = "#/components/schemas/"


MESSAGING = "messaging-api.yml"
WEBHOOK = "webhook.yml"  # what LINE sends to us: the fake's webhook events are checked against it


def spec_path(name: str = MESSAGING) -> Path:
    """`$LINE_OPENAPI_SPEC` (messaging API), else `shared/reference/line-openapi/` beside an ancestor of
    this file, else the vendored copy in tests/fixtures."""
    if name == MESSAGING and os.environ.get("LINE_OPENAPI_SPEC"):
        return Path(os.environ["LINE_OPENAPI_SPEC"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "reference" / "line-openapi" / name
        if candidate.exists():
            return candidate
    return VENDORED_SPEC.with_name(name)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                "#/$defs/" + value.removeprefix(COMPONENTS)
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def build_defs(schemas: dict[str, Any]) -> dict[str, Any]:
    """`components.schemas` as `$defs`, with discriminators turned into if/then dispatch."""
    defs: dict[str, Any] = _rewrite_refs(copy.deepcopy(schemas))
    for name, schema in list(defs.items()):
        discriminator = schema.get("discriminator") if isinstance(schema, dict) else None
        if not discriminator or "mapping" not in discriminator:
            continue
        prop, mapping = discriminator["propertyName"], discriminator["mapping"]
        base = f"{name}__base"
        defs[base] = {k: v for k, v in schema.items() if k != "discriminator"}
        dispatch: list[Any] = [{"$ref": f"#/$defs/{base}"}, {"properties": {prop: {"enum": list(mapping)}}}]
        for value, target in mapping.items():
            target_name = target.removeprefix(COMPONENTS)
            dispatch.append(
                {
                    "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                    "then": {"$ref": f"#/$defs/{target_name}"},
                }
            )
            for part in defs.get(target_name, {}).get("allOf", []):
                if part.get("$ref") == f"#/$defs/{name}":
                    part["$ref"] = f"#/$defs/{base}"
        defs[name] = {"allOf": dispatch}
    return defs


@functools.cache
def _defs(spec: str = MESSAGING) -> dict[str, Any]:
    loaded = yaml.safe_load(spec_path(spec).read_text(encoding="utf-8"))
    return build_defs(loaded["components"]["schemas"])


@functools.cache
def validator(schema_name: str, spec: str = MESSAGING) -> Draft202012Validator:
    """A validator for one component schema, e.g. `PushMessageRequest` (or `CallbackRequest` of webhook.yml)."""
    schema = {"$ref": f"#/$defs/{schema_name}", "$defs": _defs(spec)}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors_for(schema_name: str, instance: Any, spec: str = MESSAGING) -> list[str]:
    """Every validation error of `instance`, as `path: message` strings (empty when valid)."""
    found = validator(schema_name, spec).iter_errors(instance)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in found]
