"""The machine-readable plan (format_version 1.0), and the plan read back from it (``seg show``
of a saved plan). Documented in README.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.engine.graph import Edge, Graph, Node, make_graph
from seg.engine.plan import Action, Change, FieldChange, Plan, VersionNote
from seg.kinds import KINDS
from seg.model.paths import format_path, parse_key_path
from seg.model.secrets import REDACTED
from seg.render.values import code_diff, notice_lines

__all__ = ["plan_from_json", "plan_to_json"]


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
                "notices": notice_lines([change]),
                "included_by": list(change.included_by),
                "not_compared": [format_path(p) for p in change.not_compared],
                "adopt": change.adopt,
                **_version_json(change),
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
    document = {
        "format_version": Plan.FORMAT_VERSION,
        "workspace": plan.workspace,
        "workspace_digest": plan.workspace_digest,
        "manager": plan.manager or None,
        "resource_count": plan.resource_count,
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
    drawn = plan.drawn
    if drawn is not None:  # a small plan: what the markdown comment draws (seg show too)
        document["neighbourhood"] = _graph_json(drawn)
    return document


def _graph_json(graph: Graph) -> dict[str, Any]:
    """The changes' neighbourhood: its nodes (``missing``/``built_in`` only when true), and
    its edges by the nodes' positions (``field``: null from a parent to its child, else the
    field path of the reference)."""
    position = {key: index for index, key in enumerate(graph.keys)}
    nodes: list[dict[str, Any]] = []
    for node in graph.nodes:
        entry: dict[str, Any] = {"kind": node.kind, "address": node.address}
        entry.update({flag: True for flag in ("missing", "built_in") if getattr(node, flag)})
        nodes.append(entry)
    edges = [{"from": position[e.source], "to": position[e.target], "field": e.field or None}
             for e in graph.edges]  # fmt: skip
    return {"nodes": nodes, "edges": edges}


def _graph_from_json(data: Any) -> Graph | None:
    """``_graph_json`` read back (KeyError, TypeError or ValueError when malformed)."""
    if data is None:
        return None
    nodes = []
    for entry in data["nodes"]:
        kind, address = entry["kind"], entry["address"]
        if kind not in KINDS or not isinstance(address, str):
            raise ValueError(f"not a resource: {kind!r} {address!r}")
        nodes.append(Node(kind, address, missing=entry.get("missing") is True,
                          built_in=entry.get("built_in") is True))  # fmt: skip

    def end(index: Any) -> tuple[str, str]:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(nodes):
            raise ValueError(f"not a node's position: {index!r}")
        return nodes[index].key

    edges = [Edge(end(e["from"]), end(e["to"]), str(e["field"] or "")) for e in data["edges"]]
    return make_graph(nodes, edges)


def _version_json(change: Change) -> dict[str, Any]:
    """``{"version": …}`` for a change that makes a version of a versioned field (a
    function's code): from and to (0: none yet, or not known), the deploy pin (or latest),
    the declared instances, the unified diff. Other changes carry no ``version`` key."""
    note = change.version
    if note is None:
        return {}
    return {"version": {
        "file": note.file,
        "from": note.before,
        "to": note.after,
        "deploy": "latest" if note.pinned is None else note.pinned,
        "instances": [{"kind": k, "address": a} for k, a in note.instances],
        "diff": "\n".join(code_diff(change)) or None,
    }}  # fmt: skip


def _version_from_json(data: Any) -> VersionNote | None:
    if data is None:
        return None
    pinned = data["deploy"]
    return VersionNote(
        str(data["file"]), int(data["from"]), int(data["to"]),
        None if pinned == "latest" else int(pinned),
        tuple((str(i["kind"]), str(i["address"])) for i in data["instances"]),
    )  # fmt: skip


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    """The plan ``plan_to_json`` wrote, for the views: values are as redacted as the JSON
    (the clear values never were in it). KeyError, TypeError or ValueError when malformed."""
    changes = tuple(_change_from_json(c) for c in data["changes"])
    count = int(data.get("resource_count") or 0)
    return Plan(
        str(data["workspace"]), changes, str(data["workspace_digest"]), count,
        targets=tuple(str(t) for t in data.get("targets") or ()),
        missing_variables=tuple(str(v) for v in data.get("missing_variables") or ()),
        not_compared=tuple((str(n["address"]), str(n["path"]))
                           for n in data.get("not_compared") or ()),
        manager=str(data.get("manager") or ""),
        not_managed=tuple((str(n["kind"]), str(n["address"]))
                          for n in data.get("not_managed") or ()),
        neighbourhood=_graph_from_json(data.get("neighbourhood")),
    )  # fmt: skip


def _change_from_json(data: Mapping[str, Any]) -> Change:
    kind = KINDS[data["kind"]]
    action = Action(data["action"])
    mask = set(data["update_mask"])
    fields = tuple(
        FieldChange(
            parse_key_path(f["path"]),
            f["before"],
            f["after"],
            sensitive=bool(f["sensitive"]),
            cleared=bool(f.get("cleared")),
            # metadata (protect) is a field change outside the update mask
            meta=action is Action.UPDATE and f"{kind.key}.{f['path']}" not in mask,
        )
        for f in data["field_changes"]
    )
    return Change(
        str(data["address"]),
        kind,
        action,
        before=data["before"],
        after=data["after"],
        field_changes=fields,
        reason=data.get("reason") or "",
        etag=data.get("etag") or "",
        unmanaged=int(data.get("unmanaged_fields") or 0),
        included_by=tuple(str(t) for t in data.get("included_by") or ()),
        not_compared=tuple(parse_key_path(p) for p in data.get("not_compared") or ()),
        adopt=bool(data.get("adopt")),
        version=_version_from_json(data.get("version")),
    )
