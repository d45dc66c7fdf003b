"""Alert: a source volume alert (the source's event count changed by more than a percentage
over 24 hours) or a successful delivery rate alert (a destination of the source delivered less
than a percentage of its events), notified in-app, by email or to a Slack webhook (a secret).
Only the identity that created an alert edits it; workspace owners may also delete it
(``Kind.creator_edits``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from seg.kinds import destination, source
from seg.kinds.shared import parent_property
from seg.model.kinds import AccessScope, FieldSpec, Kind, Lookup, Subject, Violation
from seg.model.secrets import is_digest

__all__ = ["KIND", "MAX_URL_LENGTH"]

NAME = "Alert"
SOURCE_VOLUME = "source_volume"
DELIVERY_RATE = "delivery_rate"
TYPES = (SOURCE_VOLUME, DELIVERY_RATE)
CHANNELS = ("email", "in_app", "slack")
DEFAULT_CHANNELS = ("in_app",)
SLACK = "slack"
WEBHOOK = "slack_webhook_url"
# A source's volume may grow many times over; a delivery rate is a share of the events.
MAX_VOLUME_PERCENT = 1000
MAX_RATE_PERCENT = 100
MAX_URL_LENGTH = 2048
_SLUG = "^[a-z][a-z0-9-]{0,62}$"


def _normalize(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Channels carry no order and no repeats: sorted, each once; none declared (or cleared
    by a mask) is the default, in-app only (an alert always notifies somewhere)."""
    out = dict(fields)
    channels = out.setdefault("channels", list(DEFAULT_CHANNELS))
    if isinstance(channels, list) and all(isinstance(c, str) for c in channels):
        out["channels"] = sorted(set(channels))
    return out


def _type(subject: Subject) -> str | None:
    value = subject.fields.get("type")
    return value if isinstance(value, str) and not subject.is_unknown(("type",)) else None


def _destination(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """A delivery rate alert watches one destination; a source volume alert watches none."""
    if _type(subject) == SOURCE_VOLUME and subject.fields.get("destination"):
        message = ("a source_volume alert watches the whole source: remove destination (or "
                   "use type delivery_rate to watch a destination)")  # fmt: skip
        return [Violation(("destination",), message, "alert/destination")]
    return []


def _threshold(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """A delivery rate is a share of the events: at most 100 %."""
    value = subject.fields.get("threshold_percent")
    if _type(subject) != DELIVERY_RATE or subject.is_unknown(("threshold_percent",)):
        return []
    if isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_RATE_PERCENT:
        message = (f"threshold_percent of a delivery_rate alert is the successful delivery rate "
                   f"it alerts below: at most {MAX_RATE_PERCENT} (it is {value:g})")  # fmt: skip
        return [Violation(("threshold_percent",), message, "alert/threshold")]
    return []


def _slack(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """The Slack webhook URL is given exactly when Slack is a channel."""
    channels = subject.fields.get("channels", [])
    if not isinstance(channels, list) or subject.is_unknown(("channels",)):
        return []
    has_url = WEBHOOK in subject.fields
    if SLACK in channels and not has_url:
        message = f"channels include slack: {WEBHOOK} is required (from ${{env:…}})"
        return [Violation(("channels",), message, "alert/slack")]
    if SLACK not in channels and has_url:
        message = f"{WEBHOOK} is set but channels do not include slack: add slack or remove it"
        return [Violation((WEBHOOK,), message, "alert/slack")]
    return []


def _webhook_url(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """A clear webhook URL is an https URL with a host, at most 2048 characters; the message
    never echoes it (it is a secret)."""
    value = subject.fields.get(WEBHOOK)
    if not isinstance(value, str) or is_digest(value) or subject.is_unknown((WEBHOOK,)):
        return []
    problem = None
    if len(value) > MAX_URL_LENGTH:
        problem = f"is longer than {MAX_URL_LENGTH} characters"
    elif any(c.isspace() or not c.isprintable() for c in value):
        problem = "holds spaces or control characters"
    else:
        try:
            parts = urlsplit(value)
            ok = parts.scheme == "https" and bool(parts.hostname) and not parts.username
        except ValueError:
            ok = False
        if not ok:
            problem = "is not an https URL with a host (a Slack incoming-webhook URL)"
    if problem is None:
        return []
    origin = "from the environment " if (WEBHOOK,) in subject.secret_paths else ""
    return [Violation((WEBHOOK,), f"{WEBHOOK}: the value {origin}{problem}", "alert/webhook-url")]


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Alert spec",
    "description": (
        "An alert on a source: source_volume (the event count over 24 h changed by more than "
        "threshold_percent) or delivery_rate (a destination's successful delivery rate fell "
        "below threshold_percent). Only its creator edits it; workspace owners may delete it."
    ),
    "type": "object",
    "required": ["source", "type", "threshold_percent"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"type": {"const": DELIVERY_RATE}}, "required": ["type"]},
            "then": {"required": ["destination"]},
        },
    ],
    "properties": {
        "source": parent_property(source.KIND, "Name of the Source the alert watches."),
        "type": {
            "enum": list(TYPES),
            "description": (
                "source_volume or delivery_rate. Immutable: a change replaces the alert."
            ),
            "x-seg-immutable": True,
        },
        "destination": {
            "type": "string",
            "pattern": _SLUG,
            "description": (
                "Name of the Destination (of the same source) whose successful delivery rate a "
                "delivery_rate alert watches; required there, not allowed on source_volume. "
                "Immutable: a change replaces the alert."
            ),
            "x-seg-immutable": True,
        },
        "threshold_percent": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_VOLUME_PERCENT,
            "description": (
                "source_volume: alert when the 24-hour event count changes by more than this "
                "percentage (up or down); delivery_rate: alert when the successful delivery "
                "rate falls below this percentage (at most 100)."
            ),
        },
        "channels": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10,
            "items": {"enum": list(CHANNELS)},
            "default": ["in_app"],
            "description": "Where notifications go (order carries no meaning; default in_app).",
        },
        WEBHOOK: {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_URL_LENGTH,
            "description": (
                "The Slack incoming-webhook URL (https); required exactly when channels include "
                "slack. A secret: write it as ${env:NAME}."
            ),
        },
        "enabled": {"type": "boolean", "default": True},
    },
}

KIND = Kind(
    name=NAME,
    key="alert",
    collection="alerts",
    order=47,
    parent_kind=source.KIND,
    parent_field="source",
    fields=(
        FieldSpec("type", "string", immutable=True),
        FieldSpec("destination", "string", immutable=True, ref=destination.KIND.name,
                  optional=True),  # fmt: skip
        FieldSpec("threshold_percent", "number"),
        FieldSpec("channels", "array", unordered=True, optional=True),  # cleared: the default
        FieldSpec(WEBHOOK, "string", optional=True, secret=True),
        FieldSpec("enabled", "boolean"),
    ),
    defaults={"enabled": True, "channels": list(DEFAULT_CHANNELS)},
    access_scope=AccessScope.SOURCE,
    rules=(_destination, _threshold, _slack),
    value_rules=(_webhook_url,),
    normalize=_normalize,
    creator_edits=True,
    spec_schema=SPEC_SCHEMA,
)
