"""Saved plans: ``seg plan --out FILE`` and ``seg apply FILE``.

A saved plan holds the rendered JSON plan (no secret values) plus what it was computed from.
Apply reloads the workspace (for secret values), refuses if the YAML's digest changed, re-plans
and refuses if the live state moved (a different change set or a different etag), then sends
each write with ``If-Match``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from seg.commands.console import hidden_in
from seg.engine.plan import Plan
from seg.errors import ConfigError, StalePlan
from seg.model.clip import clip
from seg.render.plan_json import plan_from_json, plan_to_json

__all__ = ["check_fresh", "read_planfile", "saved_plan", "write_planfile"]

KIND = "seg-saved-plan"


def write_planfile(
    path: Path, plan: Plan, api_url: str, env: str | None, options: dict[str, Any]
) -> None:
    data = {
        "type": KIND, "format_version": Plan.FORMAT_VERSION, "api_url": api_url, "env": env,
        "options": options, "plan": plan_to_json(plan),
    }  # fmt: skip
    path.write_text(json.dumps(hidden_in(data), indent=2) + "\n", encoding="utf-8")


def read_planfile(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read saved plan {path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"cannot read saved plan {path}: it nests too deeply") from None
    if not isinstance(data, dict) or data.get("type") != KIND:
        raise ConfigError(f"{path} is not a saved seg plan")
    plan = data.get("plan")
    version = plan.get("format_version") if isinstance(plan, dict) else None
    if version != Plan.FORMAT_VERSION:
        raise ConfigError(
            f"{path} holds a plan in format {clip(str(version))!r}, and this seg reads format "
            f"{Plan.FORMAT_VERSION}: re-run seg plan --out with this seg"
        )
    return data


# C0 controls but tab, newline and carriage return (SQL files with CRLF), DEL and C1: a
# terminal acts on them (escape sequences).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _strings(data: Any) -> Iterator[str]:
    """Every key and string value in ``data``, without recursion."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def saved_plan(path: Path, data: dict[str, Any]) -> Plan:
    """The plan inside a saved plan file (read with ``read_planfile``), for the views. The
    file may come from elsewhere (a CI artifact): control characters are refused, so showing
    it cannot drive the terminal."""
    if any(_CONTROL.search(text) for text in _strings(data["plan"])):
        raise ConfigError(f"{path} holds control characters; not showing it")
    try:
        return plan_from_json(data["plan"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a readable saved plan: {exc!r}") from None


def _signature(change: dict[str, Any]) -> tuple[Any, ...]:
    fields = tuple((f["path"], json.dumps(f["after"], sort_keys=True))
                   for f in change["field_changes"])  # fmt: skip
    return change["kind"], change["action"], tuple(change["update_mask"]), fields


def check_fresh(
    saved: dict[str, Any], fresh: Plan, who: Callable[[list[str]], dict[str, str]] | None = None
) -> None:
    """Raise StalePlan naming what moved since ``saved`` was computed (and, through ``who``,
    the audit trail's last actor for each moved resource)."""
    old = saved["plan"]
    if old["workspace"] != fresh.workspace:
        raise StalePlan(
            f"saved plan is for workspace {old['workspace']!r}, not {fresh.workspace!r}"
        )
    if old["workspace_digest"] != fresh.workspace_digest:
        raise StalePlan(
            "saved plan is stale: the workspace files or their secret values changed since it "
            "was saved"
        )
    new = plan_to_json(fresh)
    before = {(c["kind"], c["address"]): c for c in old["changes"]}
    after = {(c["kind"], c["address"]): c for c in new["changes"]}
    moved = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None or b is None or _signature(a) != _signature(b) or a["etag"] != b["etag"]:
            moved.append(f"{key[0]} {key[1]}")
    if moved:
        actors = who([m.split(" ", 1)[1] for m in moved]) if who else {}
        shown = ", ".join(
            m
            + (
                f" (changed by {actors[m.split(' ', 1)[1]]})"
                if m.split(" ", 1)[1] in actors
                else ""
            )
            for m in moved[:10]
        ) + (f" and {len(moved) - 10} more" if len(moved) > 10 else "")
        raise StalePlan(f"saved plan is stale: the live state moved for {shown}; re-run seg plan")
