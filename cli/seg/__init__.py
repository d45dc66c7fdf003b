"""seg: configuration-as-code for a customer-data-platform workspace."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``seg.__version__``: the build's version (``seg.about``), looked up on first use."""
    if name == "__version__":
        from seg.about import build_version

        return build_version()
    raise AttributeError(f"module 'seg' has no attribute {name!r}")
