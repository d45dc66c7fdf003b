"""The CI check for models in use (``seg check``): git revisions, verdicts, reports."""
