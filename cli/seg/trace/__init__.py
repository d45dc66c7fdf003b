"""Delivery simulation: what the workspace does to events (``pipeline.trace_event``)."""
