"""``without_gc``: run a function with the cyclic garbage collector paused.

Loading a workspace and diffing it build millions of long-lived objects (values, marks,
resources) and almost no reference cycles; at 100,000 resources the collector's repeated
passes over them cost about a seventh of a cold validate and a large part of a no-op plan's
diff. Reference counting still frees everything as usual; the collector runs again (and finds
any cycles made meanwhile) as soon as the function returns.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["without_gc"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def without_gc(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``func`` with the collector paused during each call (left alone when a caller has
    paused it already: only the outermost call turns it back on)."""

    @functools.wraps(func)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return paused
