"""Executing a plan against a control plane, reporting through an observer."""

from seg.apply.executor import (
    ApplyObserver,
    ApplyResult,
    ControlPlaneWriter,
    NullObserver,
    StepResult,
    apply_plan,
)

__all__ = [
    "ApplyObserver",
    "ApplyResult",
    "ControlPlaneWriter",
    "NullObserver",
    "StepResult",
    "apply_plan",
]
