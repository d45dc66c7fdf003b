"""The documented FQL examples: an event and the truth table of expressions over it."""

from __future__ import annotations

EVENT = {
    "event": "Button Clicked",
    "type": "track",
    "context": {"library": {"name": "analytics.js", "version": "1.0"}},
    "properties": {"features": ["discounts", "dark-mode"]},
}

# (expression, whether it matches EVENT): the examples of the FQL documentation
TRUTH_TABLE: list[tuple[str, bool]] = [
    ("event = 'Button Clicked'", True),
    ("event = 'Screen Tapped'", False),
    ("context.path.path = '/login'", False),
    ("type = 'identify' or type = 'track'", True),
    ("event = 'Button Clicked' and type = 'track'", True),
    ("match( context.library.version, '1.*' )", True),
    ("match( context.library.version, '2.*' )", False),
    ("type = 'track' and ( event = 'Click' or match( event, 'Button *' ) )", True),
    ("!contains( context.library.name, 'js' )", False),
    ("'dark-mode' in properties.features", True),
    ("'blink' in properties.features", False),
]
