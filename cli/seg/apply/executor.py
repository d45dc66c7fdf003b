"""``apply_plan``: run a plan's steps in dependency order, several at once when asked
(``seg.apply.schedule``); a failure skips its dependants only. A
writer that must not write any more (``ApplyStopped``: the workspace lock was lost;
``RetryBudgetSpent``: the control plane stayed unreachable) stops the apply there, the rest
reported as not attempted.

The executor never prints: it tells an ``ApplyObserver`` what happens, as Terraform's hooks do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from seg.apply.schedule import Outcome, Status, run_steps
from seg.engine.order import Step, plan_steps
from seg.engine.plan import Plan
from seg.errors import ApplyStopped, RetryBudgetSpent, SegError
from seg.model.kinds import Kind
from seg.model.paths import format_path, parse_key_path, set_path

__all__ = [
    "ApplyObserver",
    "ApplyResult",
    "ControlPlaneWriter",
    "NullObserver",
    "StepResult",
    "apply_plan",
]


class ControlPlaneWriter(Protocol):
    """The writes apply needs; ``seg.client.ControlPlaneClient`` implements it."""

    def create(
        self,
        kind: Kind,
        address: str,
        fields: Mapping[str, Any],
        secret_paths: list[str],
        meta: Mapping[str, Any] | None = None,
    ) -> None: ...

    def update(
        self,
        kind: Kind,
        address: str,
        values: Mapping[str, Any],
        mask: list[str],
        secret_paths: list[str],
        etag: str | None,
        meta: Mapping[str, Any] | None = None,
    ) -> None: ...

    def delete(self, kind: Kind, address: str, etag: str | None) -> None: ...


class ApplyObserver(Protocol):
    def started(self, total: int) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...


class NullObserver:
    def started(self, total: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


@dataclass(frozen=True)
class StepResult:
    step: Step
    status: Status
    error: str = ""


@dataclass
class ApplyResult:
    results: list[StepResult] = field(default_factory=list)
    stopped: str = ""  # why the apply stopped before its last step ("" when it did not)

    def with_status(self, status: Status) -> list[StepResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> bool:
        return all(r.status == "applied" for r in self.results)


def _secret_paths(step: Step, mask: list[str] | None) -> list[str]:
    desired = step.change.desired
    if desired is None:
        return []
    key = step.change.kind.key
    paths = sorted(desired.secret_paths, key=format_path)
    if mask is not None:  # a list is sent whole: its secret leaves go with it
        masked = [parse_key_path(m)[1:] for m in mask]
        paths = [p for p in paths if any(p[: len(m)] == m for m in masked)]
    return [f"{key}.{format_path(p)}" for p in paths]


def _values(step: Step) -> dict[str, Any]:
    """The nested body holding just the changed leaves."""
    body: dict[str, Any] = {}
    for fc in step.change.field_changes:
        if fc.cleared or fc.meta:
            continue  # cleared: masked without a value; meta: sent beside the mask
        set_path(body, fc.path, fc.after, create=True)
    return body


def _meta(step: Step, manager: str) -> dict[str, Any]:
    """Ownership sent with every write: the paths the YAML declares, protect, and the plan's
    manager (not for built-in resources, which stay the control plane's own)."""
    desired = step.change.desired
    assert desired is not None
    managed = sorted(format_path(p) for p in desired.declared_paths())
    meta: dict[str, Any] = {"managed_paths": managed, "protect": desired.protect}
    if manager and desired.address not in desired.kind.system_names:
        meta["manager"] = manager
    return meta


def _run(step: Step, api: ControlPlaneWriter, use_etags: bool, manager: str = "") -> None:
    change = step.change
    etag = change.etag if use_etags else None
    if step.op == "delete":
        api.delete(change.kind, change.address, etag)
    elif step.op == "create":
        assert change.desired is not None
        api.create(change.kind, change.address, change.desired.fields,
                   _secret_paths(step, None), _meta(step, manager))  # fmt: skip
    else:
        mask = list(change.update_mask)
        switching = _reconnects(step)
        if switching:  # e.g. a source moving to another tracking plan: disconnect first
            api.update(change.kind, change.address, {}, switching, [], etag)
            etag = None
        api.update(change.kind, change.address, _values(step), mask,
                   _secret_paths(step, mask), etag, _meta(step, manager))  # fmt: skip


def _reconnects(step: Step) -> list[str]:
    """Mask paths of fields moving from one non-empty value to another that must be cleared
    first (FieldSpec.reconnect)."""
    out = []
    for fc in step.change.field_changes:
        spec = step.change.kind.field(fc.path[0])
        if spec is not None and spec.reconnect and fc.before and fc.after and fc.before != fc.after:
            out.append(f"{step.change.kind.key}.{format_path(fc.path)}")
    return out


def apply_plan(
    plan: Plan, api: ControlPlaneWriter, observer: ApplyObserver, use_etags: bool = True,
    parallelism: int = 1,
) -> ApplyResult:  # fmt: skip
    """Apply every step whose dependencies succeeded, up to ``parallelism`` at once (the
    writer must then be safe to call from several threads); record each outcome, in plan
    order. When the control plane stays unreachable past the retry budget, or the workspace
    lock is lost, stop: the steps in flight finish, the rest is "not attempted"."""
    steps = plan_steps(plan)
    observer.started(len(steps))
    result = ApplyResult()

    def report(step: Step, outcome: Outcome) -> None:
        finished = StepResult(step, outcome.status, outcome.error)
        result.results.append(finished)
        if outcome.status != "not_attempted":
            observer.step_finished(finished)

    def run(step: Step) -> Outcome:
        return _step(step, api, use_etags, plan.manager)

    result.stopped = run_steps(steps, run, report, parallelism)
    return result


def _step(step: Step, api: ControlPlaneWriter, use_etags: bool, manager: str) -> Outcome:
    """The step's outcome, which says whether the apply must stop (the control plane is
    gone, or the workspace lock was lost)."""
    try:
        _run(step, api, use_etags, manager)
    except RetryBudgetSpent as exc:
        return Outcome("failed", exc.message, stop=True)
    except ApplyStopped as exc:
        return Outcome("failed", str(exc), stop=True)
    except SegError as exc:
        return Outcome("failed", str(exc))
    return Outcome("applied")
