"""Tracking plans: rule identity and diffs, schema checks, and checking events (Protocols)."""
