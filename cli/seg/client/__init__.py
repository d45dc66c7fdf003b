"""The HTTP client for the control-plane API."""

from seg.client.http import ControlPlaneClient

__all__ = ["ControlPlaneClient"]
