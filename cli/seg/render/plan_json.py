"""The machine-readable plan (format_version 1.0). Documented in README.md."""

from __future__ import annotations

from typing import Any

from seg.engine.plan import Plan
from seg.model.paths import format_path
from seg.model.secrets import REDACTED

__all__ = ["plan_to_json"]


def plan_to_json(plan: Plan) -> dict[str, Any]:
    changes = []
    for change in plan.changes:
        changes.append(
            {
                "address": change.address,
                "kind": change.kind.name,
                "action": change.action.value,
                "before": change.redacted_before(),
                "after": change.redacted_after(),
                "update_mask": list(change.update_mask),
                "reason": change.reason or None,
                "etag": change.etag or None,
                "unmanaged_fields": change.unmanaged,
                "access_change": change.kind.access,
                "included_by": list(change.included_by),
                "not_compared": [format_path(p) for p in change.not_compared],
                "adopt": change.adopt,
                "field_changes": [
                    {
                        "path": format_path(fc.path),
                        "before": REDACTED if fc.sensitive else fc.before,
                        "after": REDACTED if fc.sensitive else fc.after,
                        "sensitive": fc.sensitive,
                        "cleared": fc.cleared,
                    }
                    for fc in change.field_changes
                ],
            }
        )
    return {
        "format_version": Plan.FORMAT_VERSION,
        "workspace": plan.workspace,
        "workspace_digest": plan.workspace_digest,
        "manager": plan.manager or None,
        "summary": {
            "adopt": plan.to_adopt,
            "add": plan.to_add,
            "change": plan.to_change,
            "destroy": plan.to_destroy,
            "blocked": plan.blocked,
        },
        "targets": list(plan.targets),
        "missing_variables": list(plan.missing_variables),
        "not_compared": [{"address": a, "path": p} for a, p in plan.not_compared],
        "changes": changes,
        # live resources nobody manages, left alone by this plan (always present)
        "not_managed": [{"address": a, "kind": k} for k, a in plan.not_managed],
    }
