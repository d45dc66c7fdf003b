"""The workspace of the review-12 apply tests: a seg.yaml with environments and two sources."""

from __future__ import annotations

SEG_YAML = """\
version: seg/v1
workspace: acme
vars: {region: us}
environments:
  prod:
    vars: {region: eu}
"""

SOURCES = """\
kind: Source
name: web
spec: {catalog: javascript, display_name: "web-${var:region}"}
"""
