"""The API's contract, read from server/declarations/: each item declared once, as JSON Schema.

From one declaration come the response model, the create and patch bodies, the request
validator and the programme-file loader's checks (server/declarations/README.md says how).
What stays in code is normalisation (named here, applied by name) and cross-field rules.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field as dataclass_field
from datetime import date
from functools import cache
from importlib import resources

from server.errors import InvalidInput, ValidationError

# Annotations of ours that the published spec does not carry (x-nullable is Swagger's own).
_PRIVATE = ("x-hint", "x-role", "x-extends", "x-text", "x-normalise", "x-input", "x-create-only", "x-optional")
_TEXT_FORMAT = "eventdesk-"  # x-text as a format: eventdesk-line, eventdesk-name...
_LINE_LIMITS = {"line": 1000, "name": 1000, "multiline": 20000, "any": 20000}
# C0 and C1 controls, DEL, lone surrogates and the noncharacters U+FFFE/U+FFFF: never text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]")


# --- reading the declarations ----------------------------------------------------------------


@cache
def declarations() -> dict[str, dict]:
    """Every declared definition by name, `x-extends` resolved (the declarations as written)."""
    found: dict[str, dict] = {}
    folder = resources.files("server").joinpath("declarations")
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".json"):
            for name, schema in json.loads(entry.read_text(encoding="utf-8"))["definitions"].items():
                if name in found:
                    raise ValueError(f"{name} is declared twice (second time in {entry.name})")
                found[name] = schema
    for name, schema in found.items():
        if "x-extends" in schema:
            base = found[schema["x-extends"]]
            merged = {key: value for key, value in base.items() if key not in ("x-role", "required")}
            merged.update({key: value for key, value in schema.items() if key != "properties"})
            merged["properties"] = {**base["properties"], **schema["properties"]}
            found[name] = merged
    return found


def properties(name: str, *, body: str | None = None) -> dict[str, dict]:
    """The properties of a definition: a response's, or a body's (`body` "create" or "patch")."""
    return dict(_properties(name, body))


@cache
def _properties(name: str, body: str | None) -> dict[str, dict]:
    schema = declarations()[name]
    if body in (None, "input"):  # a response's, or a body that is no item: as declared
        return dict(schema["properties"])
    chosen = {}
    for field, spec in schema["properties"].items():
        if spec.get("readOnly") or (body == "patch" and spec.get("x-create-only")):
            continue
        chosen[field] = spec.get("x-input", spec)
    return chosen


# --- the schemas derived from them -----------------------------------------------------------


@cache
def model_schemas() -> dict[str, dict]:
    """Every model the spec may name, as Swagger 2.0 JSON Schema (internal annotations removed)."""
    return {name: _published(schema) for name, schema in declarations_with_bodies().items()}


@cache
def declarations_with_bodies() -> dict[str, dict]:
    """Each declaration's models: a response, and for an item its Input and Patch bodies.

    Private keys are kept (x-text drives validation); model_schemas() publishes them without.
    """
    models = {}
    for name, schema in declarations().items():
        role = schema.get("x-role")
        if role == "input":
            models[name] = _body_schema(schema, schema["properties"], schema.get("required", []))
            continue
        models[name] = _response_schema(schema)
        if role == "item":
            models[f"{name}Input"] = _body_schema(schema, properties(name, body="create"), schema.get("required", []))
            models[f"{name}Patch"] = _body_schema(schema, properties(name, body="patch"), [])
    return models


def _response_schema(schema: dict) -> dict:
    props = schema["properties"]
    result = {
        "type": "object",
        "properties": {name: _without(spec, ("readOnly", "x-input", "default")) for name, spec in props.items()},
        "required": [name for name, spec in props.items() if not spec.get("x-optional")],
    }
    if "required" in schema and schema.get("x-role") != "item":
        result["required"] = schema["required"]  # an answer that says itself what it always has
    for key in ("description", "additionalProperties"):
        if key in schema:
            result[key] = schema[key]
    return result


def _body_schema(schema: dict, props: dict, required: list[str]) -> dict:
    result = {
        "type": "object",
        "properties": {name: _with_text_default(spec) for name, spec in props.items()},
        "additionalProperties": False,
    }
    wanted = [name for name in required if name in props]
    if wanted:
        result["required"] = wanted
    if "description" in schema:
        result["description"] = schema["description"]
    return result


def _with_text_default(spec: dict) -> dict:
    """Every string in a body is bounded and is text of some kind (a line unless declared)."""
    spec = dict(spec)
    if spec.get("type") == "string" and not ({"enum", "pattern", "format"} & spec.keys()):
        spec.setdefault("x-text", "line")
        spec.setdefault("maxLength", _LINE_LIMITS[spec["x-text"]])
    if spec.get("type") == "array" and isinstance(spec.get("items"), dict):
        spec["items"] = _with_text_default(spec["items"])
    return spec


def _without(spec: dict, keys: tuple[str, ...]) -> dict:
    return {key: value for key, value in spec.items() if key not in keys}


def _rewrite(schema: object, node: Callable[[dict], dict]) -> object:
    """`schema` with `node` applied to every object in it, innermost first."""
    if isinstance(schema, list):
        return [_rewrite(item, node) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return node({key: _rewrite(value, node) for key, value in schema.items()})


def _published(schema: object) -> object:
    """Swagger 2.0's dialect: no private keys; a $ref with siblings wrapped in allOf."""
    return _rewrite(schema, _published_node)


def _published_node(schema: dict) -> dict:
    result = {key: value for key, value in schema.items() if key not in _PRIVATE}
    if "$ref" in result and len(result) > 1:
        result = {"allOf": [{"$ref": result.pop("$ref")}], **result}
    return result


# --- validating bodies -----------------------------------------------------------------------


def _validation_form(schema: object) -> object:
    """A body's schema as both validators read it (jsonschema and fastjsonschema).

    x-nullable becomes "or null"; x-text a format (text_problem checks it); a pattern's final
    "$" becomes "\\Z", since Python's "$" also matches before a trailing newline ("annex\\n"
    is no id).
    """
    return _rewrite(schema, _validation_node)


def _validation_node(schema: dict) -> dict:
    result = {key: value for key, value in schema.items() if key not in ("x-nullable", "x-text")}
    if "x-text" in schema:
        result["format"] = f"{_TEXT_FORMAT}{schema['x-text']}"
    pattern = result.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$"):
        result["pattern"] = pattern[:-1] + "\\Z"
    if schema.get("x-nullable"):
        return {"anyOf": [{"type": "null"}, result]}
    return result


def _body_validation_schema(name: str) -> dict:
    """A body's schema with our text rules kept, and the models it names inlined for $refs.

    Only those it names: compiling all 58 into every validator made a programme load spend
    ~0.4 s compiling.
    """
    models = declarations_with_bodies()
    wanted, named = [name], {}
    while wanted:
        for ref in named_models(models[wanted.pop()]):
            if ref not in named:
                named[ref] = _validation_form(models[ref])
                wanted.append(ref)
    return {**_validation_form(models[name]), "definitions": named}


def named_models(schema: object) -> list[str]:
    """The names of the definitions a schema refers to, at any depth."""
    if isinstance(schema, dict):
        found = [schema["$ref"].rsplit("/", 1)[-1]] if isinstance(schema.get("$ref"), str) else []
        return found + [name for value in schema.values() for name in named_models(value)]
    if isinstance(schema, list):
        return [name for value in schema for name in named_models(value)]
    return []


def text_problem(kind: str, value: str) -> str | None:
    """What is wrong with `value` as text of this kind (x-text), or None."""
    if kind == "any":
        return None
    if kind == "multiline":
        bad = _CONTROL.search(value.replace("\r\n", "\n"))
    else:
        bad = _CONTROL.search(value) or _LINE_BREAKS.search(value)
    if bad:
        where = "a line break" if bad.group() in "\t\n\r\u2028\u2029" else "a control character"
        return f"must not contain {where} (U+{ord(bad.group()):04X})"
    if kind == "name" and value and not has_visible_character(value):
        return "must contain a visible character"
    return None


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True  # a format says nothing of other types (jsonschema asks of every value)
    try:
        date.fromisoformat(value)
        return len(value) == 10
    except ValueError:
        return False


def _format_checks() -> dict[str, Callable[[object], bool]]:
    """The formats a body schema uses: a date, and each kind of text (x-text)."""
    checks = {f"{_TEXT_FORMAT}{kind}": _text_check(kind) for kind in _LINE_LIMITS}
    checks["date"] = _is_date
    return checks


def _text_check(kind: str) -> Callable[[object], bool]:
    return lambda value: not isinstance(value, str) or text_problem(kind, value) is None


@cache
def validator(name: str):
    """The validator of the body named `name` (e.g. RoomInput, ScanBatch) that names every problem."""
    from jsonschema import Draft4Validator, FormatChecker

    formats = FormatChecker([])
    for format_name, check in _format_checks().items():
        formats.checks(format_name)(check)
    return Draft4Validator(_body_validation_schema(name), format_checker=formats)


_SHAPE = {"type", "additionalProperties", "required"}


@dataclass
class Problems:
    """What is wrong with a body, by field path: its shape (400) or its values (422)."""

    shape: dict[str, str] = dataclass_field(default_factory=dict)
    values: dict[str, str] = dataclass_field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.shape or self.values)

    @property
    def all(self) -> dict[str, str]:
        return {**self.values, **self.shape}

    def raise_if_any(self, what: str) -> None:
        """400 when the body has the wrong shape (unknown field, wrong type, missing), else 422."""
        if self.shape:
            names = ", ".join(sorted(self.shape))
            raise InvalidInput(f"the {what} does not have the expected shape: check {names}", fields=self.all)
        if self.values:
            problems = "; ".join(f"{name} {message}" for name, message in self.values.items())
            raise ValidationError(f"invalid {what}: {problems}", fields=self.values)


def problems(name: str, data: object, prefix: str = "") -> Problems:
    """Every problem of `data` as the body `name`, keyed by field path (`speakers[0].role`).

    A body is first tried against a compiled validator (fastjsonschema), which says only yes
    or no but takes ~3 µs where jsonschema takes ~60: an import of 100,000 attendees checks
    every row. Only a refused body goes through jsonschema, for every problem by name.
    """
    from fastjsonschema import JsonSchemaException

    found = Problems()
    try:
        _fast_validator(name)(data)
        return found
    except JsonSchemaException:
        pass
    for problem in validator(name).iter_errors(data):
        for path, message, shape in _describe(problem, prefix):
            (found.shape if shape else found.values).setdefault(path, message)
    return found


@cache
def _fast_validator(name: str) -> Callable[[object], object]:
    import fastjsonschema

    return fastjsonschema.compile(_body_validation_schema(name), formats=_format_checks(), use_default=False)


def _describe(problem, prefix: str) -> list[tuple[str, str, bool]]:
    path = prefix + field_path(problem.absolute_path)
    dot = f"{path}." if path else prefix
    if problem.validator == "additionalProperties":
        allowed = set(problem.schema.get("properties", {}))
        return [(f"{dot}{name}", "is not a known field", True) for name in problem.instance if name not in allowed]
    if problem.validator == "required":
        missing = [name for name in problem.validator_value if name not in problem.instance]
        return [(f"{dot}{name}", "is required", True) for name in missing]
    if problem.validator == "anyOf" and problem.context:
        # x-nullable: say why the value failed as the non-null kind, not "is not valid under anyOf".
        real = [sub for sub in problem.context if sub.validator != "type" or sub.validator_value != "null"]
        if real:
            inner = real[0]
            if inner.validator == "type" and list(inner.absolute_path) == list(problem.absolute_path):
                return [(path or "body", _message(inner) + " or null", True)]
            return _describe(inner, prefix)
    return [(path or prefix.rstrip(".") or "body", _message(problem), problem.validator in _SHAPE)]


def field_path(parts) -> str:
    """`speakers[0].role` from ("speakers", 0, "role")."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(problem) -> str:
    schema = problem.schema if isinstance(problem.schema, dict) else {}
    match problem.validator:
        case "type":
            kinds = problem.validator_value
            kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
            article = "an" if kinds[0] in "aeiou" else "a"
            return f"must be {article} {kinds}"
        case "enum":
            return "must be one of: " + ", ".join(str(value) for value in problem.validator_value)
        case "maxLength":
            return f"must be at most {problem.validator_value} characters"
        case "minLength":
            return "must not be empty" if problem.validator_value == 1 else problem.message
        case "maximum" | "minimum":  # every body integer declares both (a test holds them to it)
            return f"must be a whole number from {schema.get('minimum')} to {schema.get('maximum')}"
        case "maxItems":
            return f"must have at most {problem.validator_value} items"
        case "minItems":
            return f"must have at least {problem.validator_value} item{'s' if problem.validator_value > 1 else ''}"
        case "pattern":
            return schema.get("x-hint") or problem.message
        case "format" if problem.validator_value.startswith(_TEXT_FORMAT):
            return text_problem(problem.validator_value.removeprefix(_TEXT_FORMAT), problem.instance) or problem.message
        case "format" if problem.validator_value == "date":
            return "must be a date as YYYY-MM-DD"
    return problem.message


# --- normalising bodies ----------------------------------------------------------------------


def has_visible_character(text: str) -> bool:
    """Something a person can see: not only spaces, separators, marks or invisible formatting."""
    return any(unicodedata.category(char)[0] in "LNPS" for char in text)


def _category(text: str) -> str:
    from server.attendees import normalise_category

    return normalise_category(text)


NORMALISERS: dict[str, Callable[[str], object]] = {
    "strip": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    "category": _category,  # labels such as "EU policy-maker" as their ids
}


def normalised(name: str, data: dict, *, body: str) -> dict:
    """`data` with each declared string normalised (strip, upper...) before it is validated."""
    props = _properties(name, body)
    result = dict(data)
    for field, value in data.items():
        steps = props[field].get("x-normalise", ()) if field in props else ()
        for step in steps:
            if not isinstance(value, str):
                break
            value = NORMALISERS[step](value)
        result[field] = value
    return result


def check_body(name: str, data: object, *, body: str = "create", prefix: str = "") -> tuple[dict, Problems]:
    """Normalise and validate a body: (values, problems by field).

    `body` is "create" or "patch" for an item, "input" for a body-only declaration. `values`
    holds each declared field present, and on create the declared default of each absent one;
    problems name fields as `{prefix}{field}`.
    """
    if not isinstance(data, dict):
        return {}, Problems(shape={prefix.rstrip(".") or "body": "must be an object"})
    props = _properties(name, body)
    if body != "input":
        data = normalised(name, data, body=body)
    found = problems(_body_model_name(name, body), data, prefix)
    values = {}
    for field_name, spec in props.items():
        if field_name in data:
            values[field_name] = data[field_name]
        elif body != "patch" and "default" in spec:
            default = spec["default"]  # flat: a string, number, bool or list of them
            values[field_name] = list(default) if isinstance(default, list) else default
    return values, found


def _body_model_name(name: str, body: str) -> str:
    if body == "input":
        return name
    return f"{name}{'Input' if body == 'create' else 'Patch'}"


def require_body(name: str, data: object, *, body: str = "create") -> dict:
    """check_body, raising 400 for a body of the wrong shape and 422 for wrong values."""
    values, found = check_body(name, data, body=body)
    found.raise_if_any(_body_model_name(name, body))
    return values
