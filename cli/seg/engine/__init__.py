"""The pure engine: diff desired against current state, build a plan, order its steps."""

from seg.engine.diff import compute_plan
from seg.engine.order import Step, plan_steps
from seg.engine.plan import Action, Change, FieldChange, Plan

__all__ = ["Action", "Change", "FieldChange", "Plan", "Step", "compute_plan", "plan_steps"]
