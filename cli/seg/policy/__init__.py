"""Pure rules shared by the CLI and the control plane: models in use and what may change them."""

from seg.policy.models import (
    POLICIES,
    MappingUse,
    MappingView,
    ModelChangePolicy,
    ModelState,
    Verdict,
    active_uses,
    judge_model_change,
    stricter,
)
from seg.policy.sql import SqlError, dialect_for, output_columns

__all__ = [
    "POLICIES",
    "MappingUse",
    "MappingView",
    "ModelChangePolicy",
    "ModelState",
    "SqlError",
    "Verdict",
    "active_uses",
    "dialect_for",
    "judge_model_change",
    "output_columns",
    "stricter",
]
