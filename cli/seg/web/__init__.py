"""The web console: server-rendered pages (Jinja2, htmx) over the control plane's services,
mounted on its app under ``/console`` by ``seg serve`` and ``seg console``."""

from seg.web.routes import PREFIX, mount

__all__ = ["PREFIX", "mount"]
