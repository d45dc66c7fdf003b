"""Tracking-plan rules: identity (type, key, version), diffs, and draft-07 schema checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from seg.model.values import json_equal

__all__ = [
    "RuleDiff",
    "diff_rules",
    "rule_id",
    "rule_label",
    "rule_list_problems",
    "schema_problems",
]

RuleId = tuple[str, str, int]


def rule_id(rule: Mapping[str, Any]) -> RuleId:
    return (str(rule.get("type")), str(rule.get("key") or ""), int(rule.get("version") or 1))


def rule_label(rule: Mapping[str, Any]) -> str:
    kind, key, version = rule_id(rule)
    return f"{kind}{f' {key!r}' if key else ''} v{version}"


@dataclass
class RuleDiff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    @property
    def upserts(self) -> list[dict[str, Any]]:
        return self.added + [after for _, after in self.changed]


def diff_rules(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]) -> RuleDiff:
    old = {rule_id(r): dict(r) for r in before}
    new = {rule_id(r): dict(r) for r in after}
    diff = RuleDiff()
    for key in sorted(new):
        if key not in old:
            diff.added.append(new[key])
        elif not json_equal(old[key].get("json_schema"), new[key].get("json_schema")):
            diff.changed.append((old[key], new[key]))
    diff.removed = [old[k] for k in sorted(old) if k not in new]
    return diff


def schema_problems(rules: Iterable[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(rule index, message) for every rule whose json_schema is not valid draft-07, and for
    rules that repeat an identity."""
    import jsonschema  # only when a workspace has tracking plans

    out: list[tuple[int, str]] = []
    seen: dict[RuleId, int] = {}
    for index, rule in enumerate(rules):
        try:
            jsonschema.Draft7Validator.check_schema(rule.get("json_schema", {}))
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            out.append((index, f"{rule_label(rule)}: json_schema is not a valid draft-07 schema "
                               f"at {where}: {exc.message}"))  # fmt: skip
        ident = rule_id(rule)
        if ident in seen:
            out.append((index, f"{rule_label(rule)} is declared twice (rules {seen[ident]} and "
                               f"{index})"))  # fmt: skip
        seen[ident] = index
    return out


def rule_list_problems(rules: Any) -> list[tuple[tuple[str, ...], str]]:
    """(field path, message) for every problem of a plan's rules: not a list of rules, a rule
    without its ``json_schema``, a schema that is not draft-07, an identity declared twice."""
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        return [(("rules",), "rules must be a list of rules")]
    for index, rule in enumerate(rules):
        if not isinstance(rule.get("json_schema"), dict):
            return [(("rules", str(index)), f"rules[{index}].json_schema is required")]
    out: list[tuple[tuple[str, ...], str]] = []
    for index, message in schema_problems(rules):
        held = "json_schema" in rules[index]
        path = ("rules", str(index), "json_schema") if held else ("rules", str(index))
        out.append((path, f"rules[{index}]: {message}"))
    return out
