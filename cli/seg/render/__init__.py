"""Views: plans, diagnostics and apply progress as text, JSON and markdown. No engine logic."""
