"""``seg init``: the files of a new workspace."""

from __future__ import annotations

import re
from pathlib import Path

from seg.commands.safe_write import NewFile, write_files
from seg.commands.schema_cmds import schema_files
from seg.editor_schemas import SCHEMA_DIR, modeline
from seg.errors import ConfigError

__all__ = ["scaffold"]

SEG_YAML = """\
version: seg/v1
workspace: {slug}
api_url: embedded            # or http://127.0.0.1:8400 (overridden by SEG_API_URL / --api-url)
model_change_policy: strict
environments:
  dev:
    workspace: {slug}-dev
    vars: {{env_label: dev}}
  prod:
    workspace: {slug}-prod
    vars: {{env_label: prod}}
"""

SOURCE_YAML = """\
kind: Source
name: web
spec:
  display_name: Website
  catalog: javascript
  enabled: true
"""

README = """\
# {slug} workspace

Managed with seg: `seg validate`, then `seg plan`, then `seg apply`.
"""


def _slug(directory: Path, workspace: str | None) -> str:
    if workspace:
        return workspace
    name = directory.resolve().name.lower()
    slug = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"ws-{slug}".rstrip("-")
    return slug[:63]


def scaffold(directory: Path, workspace: str | None) -> list[Path]:
    if (directory / "seg.yaml").exists():
        raise ConfigError(f"{directory / 'seg.yaml'} already exists; not overwriting it")
    slug = _slug(directory, workspace)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", slug):
        raise ConfigError(f"workspace slug {slug!r} must match ^[a-z][a-z0-9-]{{0,62}}$")
    files = [
        NewFile("seg.yaml", modeline("seg.yaml") + SEG_YAML.format(slug=slug)),
        NewFile("sources/web.yaml", modeline("sources/web.yaml") + SOURCE_YAML, "skip"),
        NewFile("README.md", README.format(slug=slug), "skip"),
        NewFile(".gitignore", ".seg/\n", "skip"),
    ]
    # with the schemas the modelines point at (offline), all or none, never through a symlink
    written = write_files(directory, [*files, *schema_files(SCHEMA_DIR)])
    return [directory / rel for rel in written if not rel.startswith(f"{SCHEMA_DIR}/")
            ] + [directory / SCHEMA_DIR]  # fmt: skip
