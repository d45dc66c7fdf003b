"""A workspace whose values come from the environment (``${env:…}``), for the tests of
missing secrets."""

from __future__ import annotations

from pathlib import Path

SOURCES = """\
kind: Source
name: web
spec: {catalog: javascript}
"""

DESTINATIONS = """\
kind: Destination
name: amplitude
spec:
  source: web
  catalog: amplitude
  enabled: true
  settings:
    api_key: ${env:AMP_KEY}
    region: eu
---
kind: Destination
name: hook
spec:
  source: web
  catalog: webhook
  settings:
    url: https://hooks.example.com/in
    shared_secret: ${env:HOOK_TOKEN}
"""

SECRETS = {"AMP_KEY": "amp-SECRET-value-5150", "HOOK_TOKEN": "hook-SECRET-value-6160"}


def write(root: Path, files: dict[str, str], seg_yaml: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(seg_yaml or "version: seg/v1\nworkspace: acme\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
