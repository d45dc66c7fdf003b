"""``${env:NAME}`` and ``${var:NAME}`` in string values; ``$$`` is a literal ``$``.

An empty ``${env:NAME}`` counts as not set: CI systems expand a secret that does not exist to
the empty string, and applying that would overwrite the real value with "".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seg.model.clip import clip_repr

__all__ = ["Interpolation", "interpolate"]

Path = tuple[Any, ...]

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_REF = re.compile(r"^(env|var):([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class Interpolation:
    """The result of interpolating one value: secret paths and problems found on the way."""

    secret_paths: set[Path] = field(default_factory=set)
    problems: list[tuple[Path, str]] = field(default_factory=list)
    env_values: set[str] = field(default_factory=set)  # what ${env:…} put in: never shown
    # ${env:…} whose variable is not set or empty: (path, variable). The value keeps the reference's
    # own text (``${env:NAME}``) as a placeholder; the loader decides what that means.
    missing: list[tuple[Path, str]] = field(default_factory=list)


def interpolate(
    value: Any, path: Path, variables: Mapping[str, str], environ: Mapping[str, str],
    result: Interpolation,
) -> Any:  # fmt: skip
    if isinstance(value, dict):
        return {k: interpolate(v, (*path, k), variables, environ, result) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, (*path, i), variables, environ, result) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        ref = _REF.match(match.group(1) or "")
        if ref is None:
            shown = clip_repr(match.group(0))
            message = f"bad interpolation {shown}: use ${{env:NAME}} or ${{var:NAME}}"
            result.problems.append((path, message))
            return ""
        source, name = ref.groups()
        if source == "env":
            result.secret_paths.add(path)
            value = environ.get(name, "")
            if not value:  # empty is not set: CI expands a missing secret to ""
                result.missing.append((path, name))
                return match.group(0)
            result.env_values.add(value)
            return value
        if name not in variables:
            message = f"variable {clip_repr(name)} is not defined for this environment"
            result.problems.append((path, message))
            return ""
        return variables[name]

    return _TOKEN.sub(replace, value)
