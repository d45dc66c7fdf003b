"""JSON Schema validation of YAML values, with errors placed at the offending key or value."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import fastjsonschema

from seg.model.clip import MAX_ECHO, clip, clip_repr, clip_within
from seg.model.wording import close_match, too_many
from seg.schemas import load_schema, schema_validator
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.yamlpos import YamlDocument

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.protocols import Validator

__all__ = ["check_against_schema"]


@cache
def _validator(filename: str) -> Validator:
    return schema_validator(load_schema(filename))  # only needed to explain a failure


# What a schema may hold to say only which keys an object has (``_presence_only``).
_PRESENCE = frozenset({"required", "not", "anyOf", "oneOf", "allOf"})
_COMBINATORS = ("not", "anyOf", "oneOf", "allOf")


@cache
def _fast_check(filename: str) -> tuple[Any, Callable[[dict[Any, Any]], bool] | None]:
    """A compiled validator for the common (valid) case (jsonschema explains failures), and
    the top-level combinators it leaves out because they only say which keys the object
    has ("exactly one of ``catalog`` and ``function``"), as one test of its keys: the
    compiled code would raise and catch an exception for every branch not taken."""
    schema = load_schema(filename)
    keyed = {word: schema[word] for word in _COMBINATORS
             if word in schema and _presence_only({word: schema[word]})}  # fmt: skip
    rest = {word: value for word, value in schema.items() if word not in keyed}
    test = eval(f"lambda value: {_expression(keyed)}") if keyed else None  # noqa: S307 - ours
    return fastjsonschema.compile(rest, use_default=False), test


def _presence_only(schema: Any) -> bool:
    """Whether ``schema`` is made of ``required`` lists and combinators of them alone."""
    if not isinstance(schema, dict) or not schema or not set(schema) <= _PRESENCE:
        return False
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
        return False
    parts = [schema["not"]] if "not" in schema else []
    for word in ("anyOf", "oneOf", "allOf"):
        if word in schema:
            if not isinstance(schema[word], list) or not schema[word]:
                return False
            parts += schema[word]
    return all(_presence_only(part) for part in parts)


def _expression(schema: dict[str, Any]) -> str:
    """Python for "the object ``value`` is valid under the presence-only ``schema``" (its
    keys are written with ``repr``: string literals)."""
    terms = [f"({key!r} in value)" for key in schema.get("required", ())]
    if "not" in schema:
        terms.append(f"(not {_expression(schema['not'])})")
    if "anyOf" in schema:
        terms.append(f"({' or '.join(_expression(part) for part in schema['anyOf'])})")
    if "oneOf" in schema:
        count = " + ".join(f"int({_expression(part)})" for part in schema["oneOf"])
        terms.append(f"({count} == 1)")
    if "allOf" in schema:
        terms += [_expression(part) for part in schema["allOf"]]
    return f"({' and '.join(terms) or 'True'})"


def _is_valid(filename: str, value: Any) -> bool:
    validator, keyed = _fast_check(filename)
    if keyed is not None and not (isinstance(value, dict) and keyed(value)):
        return False  # (a value that is no object: jsonschema says why)
    try:
        validator(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def check_against_schema(
    doc: YamlDocument,
    base: tuple[Any, ...],
    filename: str,
    shown: str,
    what: str = "",
    value: Any = None,
    hidden: frozenset[tuple[Any, ...]] = frozenset(),
    unknown: frozenset[tuple[Any, ...]] = frozenset(),
) -> list[Diagnostic]:
    """Validate the value at ``base`` in ``doc`` (or ``value``, its interpolated form) against
    ``schemas/<filename>``. Messages never echo a value at a ``hidden`` (secret) path.

    At an ``unknown`` path (a ``${env:…}`` whose variable is not set) the value is only a
    placeholder string: only its type is checked there (a value from the environment is
    always a string), not what depends on the value itself (pattern, enum, length, format,
    and a ``oneOf``/``anyOf``/``not`` around it)."""
    if value is None:
        value = doc.value
        for key in base:
            value = value[key]
    if _is_valid(filename, value):
        return []
    out: list[Diagnostic] = []
    for error in _validator(filename).iter_errors(value):
        if not _about_unknown((*base, *error.absolute_path), error.validator, unknown):
            out += _diagnostics(doc, base, error, shown, what, hidden)
    return sorted(set(out))


_AROUND = frozenset({"oneOf", "anyOf", "not", "if", "then", "else"})


def _about_unknown(path: tuple[Any, ...], validator: Any, unknown: frozenset[tuple[Any, ...]]
                   ) -> bool:  # fmt: skip
    """Whether an error depends on a value nobody knows here: any error but ``type`` at or
    beneath an unknown path, and a combinator's error above one."""
    for hole in unknown:
        if path[: len(hole)] == hole:
            return bool(validator != "type")
        if path == hole[: len(path)] and validator in _AROUND:
            return True
    return False


def _diagnostics(
    doc: YamlDocument,
    base: tuple[Any, ...],
    error: jsonschema.ValidationError,
    shown: str,
    what: str,
    hidden: frozenset[tuple[Any, ...]],
) -> list[Diagnostic]:
    path = (*base, *error.absolute_path)
    dotted = ".".join(clip(str(p)) for p in path) or "document"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        out = []
        for key in sorted(set(error.instance) - set(allowed)):
            hint = close_match(str(key), allowed, limit=MAX_ECHO)
            suffix = (
                f" (did you mean {hint!r}?)" if hint else f" (allowed: {', '.join(allowed)})"
            )
            where = f" in {dotted}" if path else ""
            line, col = doc.key_mark((*path, key))
            message = f"unknown key {clip_repr(key)}{where}{suffix}"
            out.append(Diagnostic(shown, line, col, message, "schema/unknown-key"))
        return out
    if error.validator == "required":
        line, col = doc.mark(path)
        return [Diagnostic(shown, line, col, f"{dotted}: {error.message}", "schema/required")]
    line, col = doc.mark(path)
    counted = too_many(str(error.validator), error.validator_value, error.instance)
    message = f"{dotted}: {counted or clip_within(error.message, error.instance)}"
    if error.validator in ("oneOf", "anyOf") and "x-seg-message" in error.schema:
        message = f"{dotted}: {error.schema['x-seg-message']}"
    if any(h[: len(path)] == path for h in hidden):  # the value is, or holds, a secret
        message = f"{dotted}: the value from the environment fails the {error.validator!r} check"
    if error.validator == "enum" and what == "kind":
        message = _unknown_kind(error.instance, list(error.validator_value))
    return [Diagnostic(shown, line, col, message, f"schema/{error.validator}")]


def _unknown_kind(written: Any, kinds: list[str]) -> str:
    hint = close_match(written, kinds, limit=MAX_ECHO) if isinstance(written, str) else None
    if hint:
        return f"unknown kind {clip_repr(written)} (did you mean {hint!r}?)"
    return f"unknown kind {clip_repr(written)}; expected one of: {', '.join(kinds)}"

