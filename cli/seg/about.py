"""Which seg this is: the build's version, read from the installed distribution.

hatch-vcs writes the version into the distribution's metadata when it is built (a git tag
``v0.2.0`` gives ``0.2.0``; commits after it ``0.2.1.devN+gSHA``). The metadata is trusted only
when it describes the code that is running: run from a source tree on PYTHONPATH beside
another installed seg (a second checkout, an old editable install), the installed version
would name someone else's code, so the version is then ``FALLBACK_VERSION``. Read on first use:
most commands never ask, and ``importlib.metadata`` is not free to import.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from importlib.metadata import Distribution

__all__ = ["DISTRIBUTION", "FALLBACK_VERSION", "build_version"]

DISTRIBUTION = "seg"
# The running code is not what any installed distribution describes (a source tree on PYTHONPATH).
FALLBACK_VERSION = "0+unknown"
PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def build_version() -> str:
    """The version of the running code: its distribution's, else ``FALLBACK_VERSION``."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION
    return dist.version if _describes_this_code(dist) else FALLBACK_VERSION


def _describes_this_code(dist: Distribution) -> bool:
    """Whether ``dist`` installed the package this module belongs to: an editable install's
    source directory holds it, or a regular install's ``seg/`` is it."""
    source = _editable_source(dist)
    if source is not None:
        return PACKAGE_DIR.is_relative_to(source)
    installed = Path(str(dist.locate_file("seg/__init__.py")))
    try:
        return installed.resolve().parent == PACKAGE_DIR
    except OSError:
        return False


def _editable_source(dist: Distribution) -> Path | None:
    """The source directory of an editable install (PEP 610 ``direct_url.json``), else None."""
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        return None
    info = direct.get("dir_info") if isinstance(direct, dict) else None
    if not isinstance(info, dict) or info.get("editable") is not True:
        return None
    url = urlparse(str(direct.get("url", "")))
    if url.scheme != "file":
        return None
    try:
        return Path(unquote(url.path)).resolve()
    except OSError:
        return None
