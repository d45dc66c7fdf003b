"""The saved plan as a value: ``SavedPlan.encode()`` is what ``seg plan --out`` writes,
``SavedPlan.decode()`` what ``seg apply PLANFILE`` and ``seg show`` check, field by field.

The file format is unchanged (``planfile.SAVED_PLAN_SCHEMA`` validates a file before it is
decoded, so decoding may rely on the types): the JSON plan the views print, plus what it was
computed from — the control plane's URL, the environment, the options, the SHA-256 of every
file read. The checks compare the typed fields here (a change's kind, action, mask, the
values it sends, its etag), never fragments of JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seg.engine.plan import Change, Plan
from seg.model.paths import format_path
from seg.model.secrets import REDACTED
from seg.model.values import json_equal
from seg.render.plan_json import plan_to_json

__all__ = ["KIND", "SavedChange", "SavedField", "SavedOptions", "SavedPlan"]

KIND = "seg-saved-plan"


@dataclass(frozen=True)
class SavedOptions:
    """How the plan was narrowed. None: not given (or not recorded by an older seg)."""

    targets: tuple[str, ...] | None = None
    scope: str | None = None  # the sub-directory, relative to the workspace root
    max_deletes: int | None = None
    missing_secrets: str | None = None  # "fail" or "skip"

    def encode(self) -> dict[str, Any]:
        targets = None if self.targets is None else list(self.targets)
        return {"targets": targets, "scope": self.scope, "max_deletes": self.max_deletes,
                "missing_secrets": self.missing_secrets}  # fmt: skip

    @classmethod
    def decode(cls, data: Mapping[str, Any] | None) -> SavedOptions:
        data = data or {}
        targets = data.get("targets")
        return cls(
            None if targets is None else tuple(targets), data.get("scope"),
            data.get("max_deletes"), data.get("missing_secrets"),
        )  # fmt: skip

    def narrowing(self) -> tuple[str | None, tuple[str, ...] | None, int | None]:
        """(scope, targets, budget) with "not given" as None however it is spelled (``""``, no
        targets); targets as a sorted set (order and repeats do not narrow differently)."""
        targets = tuple(sorted(set(self.targets))) if self.targets else None
        return self.scope or None, targets, self.max_deletes


@dataclass(frozen=True)
class SavedField:
    """One leaf a change sends: its path and value (``(sensitive)`` for a secret)."""

    path: str
    after: Any
    sensitive: bool = False

    def same_as(self, other: SavedField) -> bool:
        return (self.path, self.sensitive) == (other.path, other.sensitive) and json_equal(
            self.after, other.after
        )


@dataclass(frozen=True)
class SavedChange:
    """What one change of a plan would do, as far as a reviewer saw it."""

    kind: str
    address: str
    action: str
    update_mask: tuple[str, ...] = ()
    fields: tuple[SavedField, ...] = ()
    etag: str = ""  # the live resource's etag the change was computed against

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.address

    @classmethod
    def of(cls, change: Change) -> SavedChange:
        """The change as ``plan_to_json`` shows it (secrets redacted)."""
        fields = tuple(
            SavedField(format_path(fc.path), REDACTED if fc.sensitive else fc.after, fc.sensitive)
            for fc in change.field_changes
        )
        return cls(change.kind.name, change.address, change.action.value,
                   tuple(change.update_mask), fields, change.etag)  # fmt: skip

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> SavedChange:
        fields = tuple(
            SavedField(f["path"], f["after"], bool(f["sensitive"])) for f in data["field_changes"]
        )
        return cls(data["kind"], data["address"], data["action"], tuple(data["update_mask"]),
                   fields, data.get("etag") or "")  # fmt: skip

    def same_as(self, other: SavedChange) -> bool:
        """The same write against the same live resource."""
        if (self.key, self.action, self.update_mask, self.etag) != (
            other.key, other.action, other.update_mask, other.etag,
        ):  # fmt: skip
            return False
        pairs = zip(self.fields, other.fields, strict=False)
        return len(self.fields) == len(other.fields) and all(a.same_as(b) for a, b in pairs)


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan file: the plan as shown, and what it was computed from."""

    document: dict[str, Any]  # the JSON plan as written: ``seg show -o json`` prints it
    workspace: str
    workspace_digest: str
    changes: tuple[SavedChange, ...]
    missing_variables: tuple[str, ...] = ()
    api_url: str | None = None  # None: not recorded (apply refuses it)
    env: str | None = None
    options: SavedOptions = field(default_factory=SavedOptions)
    files: dict[str, str] | None = None  # path → SHA-256; None: not recorded
    format_version: str = Plan.FORMAT_VERSION

    @classmethod
    def of(cls, plan: Plan, api_url: str, env: str | None, options: SavedOptions,
           files: Mapping[str, str]) -> SavedPlan:  # fmt: skip
        """The saved form of a plan just computed."""
        return cls(
            plan_to_json(plan), plan.workspace, plan.workspace_digest,
            tuple(SavedChange.of(c) for c in plan.changes), plan.missing_variables,
            api_url, env, options, dict(sorted(files.items())),
        )  # fmt: skip

    def encode(self) -> dict[str, Any]:
        """The file's JSON document (the same members, in the same order, as ever)."""
        data: dict[str, Any] = {
            "type": KIND, "format_version": self.format_version, "api_url": self.api_url,
            "env": self.env, "options": self.options.encode(), "files": self.files,
            "plan": self.document,
        }  # fmt: skip
        return data

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> SavedPlan:
        """A document ``SAVED_PLAN_SCHEMA`` accepted. Members a plan for ``seg show`` may lack
        (``api_url``, ``options``, ``files``) decode as not recorded."""
        plan = data["plan"]
        return cls(
            plan, plan["workspace"], plan["workspace_digest"],
            tuple(SavedChange.decode(c) for c in plan["changes"]),
            tuple(plan.get("missing_variables") or ()), data.get("api_url"), data.get("env"),
            SavedOptions.decode(data.get("options")),
            dict(data["files"]) if isinstance(data.get("files"), dict) else None,
            str(data.get("format_version") or Plan.FORMAT_VERSION),
        )  # fmt: skip
