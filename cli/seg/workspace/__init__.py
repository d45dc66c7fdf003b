"""Loading a workspace: files → YAML with positions → JSON Schema → resolved resources."""

from seg.workspace.diagnostics import Diagnostic
from seg.workspace.loader import Workspace, load_workspace

__all__ = ["Diagnostic", "Workspace", "load_workspace"]
