"""Saved plans: ``seg plan --out FILE`` and ``seg apply FILE``.

A saved plan holds the rendered JSON plan (no secret values) plus what it was computed from:
the control plane's URL, the environment, the options, and the SHA-256 of every workspace file
the plan read. Apply reloads the workspace (for secret values) and refuses with StalePlan (exit
4, asking for a fresh review) if any of those files differ byte for byte (the merged tree is
not the reviewed one), if the URL, the environment, the scope, the targets or the delete
budget of this apply differ from the saved ones, if the resolved YAML's digest changed, or —
after re-planning — if the live state moved (a different change set or a different etag); then
it sends each write with ``If-Match``. The plan file never chooses: the URL is resolved as for
any command, and the environment, scope, targets and budget come from the apply's own command
line (and its defaults); each must equal the saved one ("not given" equals "not given").
The file decodes into a typed ``SavedPlan`` (``commands/saved_plan.py``) once its shape is
checked; the checks here compare its fields.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seg.commands.console import hidden_in
from seg.commands.saved_plan import KIND, SavedChange, SavedOptions, SavedPlan
from seg.engine.plan import Plan
from seg.errors import ConfigError, StalePlan
from seg.model.clip import clip, clip_repr, clip_within
from seg.model.printable import CONTROLS, display_path
from seg.model.urls import redact_url
from seg.model.values import json_strings
from seg.render.plan_json import plan_from_json
from seg.workspace.tree import Tree

__all__ = [
    "FRESH_REVIEW",
    "ReadRecorder",
    "check_files",
    "check_fresh",
    "check_options",
    "check_target",
    "read_planfile",
    "refuse_incomplete",
    "saved_plan",
    "scope_key",
    "write_planfile",
]

FRESH_REVIEW = "run seg plan again and have the new plan reviewed"


class ReadRecorder:
    """A ``Tree`` that remembers the SHA-256 of every file the loader reads through it.

    It has no ``identity``: the validate cache reads (and so records) every file. With
    ``trusts_identities`` (``seg plan``) the whole-load memo may answer instead, and gives
    back the digests its own load recorded — proved by every file's identity, as the memo's
    result is. ``seg apply`` leaves it off: the check of a saved plan reads every byte."""

    def __init__(self, inner: Tree, trusts_identities: bool = False) -> None:
        self._inner = inner
        self.trusts_identities = trusts_identities
        self.digests: dict[str, str] = {}

    @property
    def inner(self) -> Tree:
        return self._inner

    def files(self) -> list[str]:
        return self._inner.files()

    def read(self, rel: str, limit: int | None = None) -> str:
        text = self._inner.read(rel, limit)
        self.digests[rel] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return text

    def display(self, rel: str) -> str:
        return self._inner.display(rel)


def write_planfile(path: Path, saved: SavedPlan) -> None:
    path.write_text(json.dumps(hidden_in(saved.encode()), indent=2) + "\n", encoding="utf-8")


# A saved plan holds the redacted before/after of every change: a workspace of thousands of
# resources saves a few MB. 32 MiB leaves room for ten times that, while reading and checking
# a forged file stays bounded in time and memory (the file is never read past the limit).
MAX_PLANFILE_BYTES = 32 << 20


def read_planfile(path: Path) -> SavedPlan:
    """The saved plan in ``path``, its shape checked (``SAVED_PLAN_SCHEMA``) before it is
    decoded, so a forged member is one ConfigError line, never a misread value."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_PLANFILE_BYTES + 1)
        if len(raw) > MAX_PLANFILE_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_PLANFILE_BYTES >> 20} MiB: not a "
                              "saved plan seg wrote")  # fmt: skip
        data = json.loads(raw.decode("utf-8"))
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
    _check_shape(path, data)
    return SavedPlan.decode(data)


_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": _STR}
_COUNT = {"type": "integer", "minimum": 0}
_VALUES = {"type": ["object", "null"]}


def _record(*required: str, **extra: Any) -> dict[str, Any]:
    """An object with ``required`` string members (and ``extra`` typed ones)."""
    return {"type": "object", "required": list(required),
            "properties": {**dict.fromkeys(required, _STR), **extra}}  # fmt: skip


_FIELD_CHANGE = _record("path", sensitive={"type": "boolean"}, cleared={"type": "boolean"})
_FIELD_CHANGE["required"] += ["before", "after", "sensitive"]
_CHANGE = _record(
    "address", "kind", "action",
    before=_VALUES, after=_VALUES, update_mask=_STRINGS, reason=_STR_OR_NULL,
    etag=_STR_OR_NULL, unmanaged_fields={"type": ["integer", "null"], "minimum": 0},
    access_change={"type": "boolean"}, included_by=_STRINGS, not_compared=_STRINGS,
    adopt={"type": "boolean"}, field_changes={"type": "array", "items": _FIELD_CHANGE},
)  # fmt: skip
_CHANGE["required"] += ["before", "after", "update_mask", "field_changes"]
_PLAN = _record(
    "format_version", "workspace", "workspace_digest",
    manager=_STR_OR_NULL, resource_count=_COUNT, summary={"type": "object"},
    targets=_STRINGS, missing_variables=_STRINGS,
    not_compared={"type": "array", "items": _record("address", "path")},
    changes={"type": "array", "items": _CHANGE},
    not_managed={"type": "array", "items": _record("address", "kind")},
)  # fmt: skip
_PLAN["required"].append("changes")
_OPTIONS = {
    "type": "object",
    "properties": {
        "targets": {"type": ["array", "null"], "items": _STR},
        "scope": _STR_OR_NULL,
        "max_deletes": {"type": ["integer", "null"], "minimum": 0},
        "missing_secrets": {"enum": ["fail", "skip"]},
    },
}
# What ``write_planfile`` writes; members a plan for ``seg show`` may lack stay optional
# (apply refuses a plan without api_url or files as stale).
SAVED_PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "plan"],
    "properties": {
        "type": {"const": KIND},
        "format_version": _STR,
        "api_url": _STR,
        "env": _STR_OR_NULL,
        "options": _OPTIONS,
        "files": {"type": "object", "additionalProperties": _STR},
        "plan": _PLAN,
    },
}
def _check_shape(path: Path, data: dict[str, Any]) -> None:
    import jsonschema  # loaded only when a saved plan is read (not on every command's start)

    shape = jsonschema.Draft202012Validator(SAVED_PLAN_SCHEMA)
    error = jsonschema.exceptions.best_match(shape.iter_errors(data))
    if error is None:
        return
    where = display_path(tuple(error.absolute_path)) or "the file"
    message = clip_within(error.message, error.instance)
    raise ConfigError(f"{path} is not a readable saved plan: at {where}: {message}")


def check_files(saved: SavedPlan, files: dict[str, str]) -> None:
    """Refuse unless the workspace files read now are, byte for byte, the ones the saved plan
    was computed from (the reviewed tree)."""
    old = saved.files
    if old is None:
        raise StalePlan(f"saved plan does not record the files it was planned from; {FRESH_REVIEW}")
    if old == files:
        return
    changed = sorted(p for p in old.keys() & files.keys() if old[p] != files[p])
    parts = [
        f"{label}: {_some(paths)}"
        for label, paths in (
            ("changed", changed),
            ("added", sorted(files.keys() - old.keys())),
            ("removed", sorted(old.keys() - files.keys())),
        )
        if paths
    ]
    raise StalePlan(
        "saved plan is stale: the workspace files differ from the ones it was planned from "
        f"({'; '.join(parts)}); {FRESH_REVIEW}"
    )


def _some(paths: list[str]) -> str:
    return ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")


def check_target(saved: SavedPlan, api_url: str) -> None:
    """The control plane this apply talks to must be the one the plan was computed against."""
    if saved.api_url != api_url:
        planned = redact_url(str(saved.api_url))
        raise StalePlan(
            f"saved plan was computed against {planned}, but this apply talks to "
            f"{redact_url(api_url)}: pass --api-url (or set SEG_API_URL) to the same control "
            f"plane, or {FRESH_REVIEW}"
        )


_FLAGS = ("--env", "-w (a sub-directory)", "--target", "--max-deletes")


def scope_key(root: Path, scope: Path | None) -> str | None:
    """The sub-directory a plan is narrowed to, relative to the workspace root (``/``-separated),
    so ``-w ws/sub`` and ``-w ./ws/sub/`` name the same scope; None for the whole workspace."""
    if scope is None:
        return None
    return Path(os.path.relpath(scope.resolve(), root.resolve())).as_posix()


def check_options(saved: SavedPlan, given: SavedOptions, env: str | None) -> None:
    """The environment, scope, targets and delete budget of ``seg apply PLANFILE`` come from
    its own command line (and defaults), never from the file: each must equal what the plan
    was computed with ("not given" equals "not given"), or the apply is refused (exit 4)."""
    recorded = (saved.env or None, *saved.options.narrowing())
    wanted = (env or None, *given.narrowing())
    for flag, planned, value in zip(_FLAGS, recorded, wanted, strict=True):
        if planned != value:
            raise StalePlan(
                f"saved plan was computed with {flag} {_shown(planned)}, not {_shown(value)}; "
                f"{FRESH_REVIEW}"
            )


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    text = " ".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return clip(text) if text.isprintable() else clip_repr(text)  # the file may be forged


def refuse_incomplete(saved: SavedPlan) -> None:
    """A plan made with --missing-secrets=skip left values out: it is for reading, never
    for applying. Stale (exit 4), like any plan that is not what the apply would do: the
    apply job's "plan again and have it reviewed" path applies."""
    if saved.missing_variables:
        names = ", ".join(saved.missing_variables)
        raise StalePlan(
            f"this saved plan was made with --missing-secrets=skip (not set: {names}) and did "
            f"not compare those values; it cannot be applied: {FRESH_REVIEW}, with them set"
        )


def saved_plan(path: Path, saved: SavedPlan) -> Plan:
    """The plan inside a saved plan file (read with ``read_planfile``), for the views. The
    file may come from elsewhere (a CI artifact): control characters are refused, so showing
    it cannot drive the terminal."""
    if any(CONTROLS.search(text) for text in json_strings(saved.document)[0]):
        raise ConfigError(f"{path} holds control characters; not showing it")
    try:
        return plan_from_json(saved.document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a readable saved plan: {exc!r}") from None


def check_fresh(
    saved: SavedPlan, fresh: Plan, who: Callable[[list[str]], dict[str, str]] | None = None
) -> None:
    """Raise StalePlan naming what moved since ``saved`` was computed (and, through ``who``,
    the audit trail's last actor for each moved resource)."""
    if saved.workspace != fresh.workspace:
        raise StalePlan(f"saved plan is for workspace {saved.workspace!r}, not {fresh.workspace!r}")
    if saved.workspace_digest != fresh.workspace_digest:
        raise StalePlan(
            "saved plan is stale: the workspace files or their secret values changed since it "
            "was saved; " + FRESH_REVIEW
        )
    before = {c.key: c for c in saved.changes}
    after = {c.key: c for c in map(SavedChange.of, fresh.changes)}
    moved = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None or b is None or not a.same_as(b):
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
        raise StalePlan(f"saved plan is stale: the live state moved for {shown}; {FRESH_REVIEW}")
