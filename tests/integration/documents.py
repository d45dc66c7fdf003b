"""YAML documents several tests apply: a source and its destinations."""

from __future__ import annotations

DESTS = """\
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
name: webhook
spec:
  source: ios
  catalog: webhook
"""
