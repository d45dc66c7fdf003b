"""A workspace holding every kind, applied on the embedded control plane: the base of the
one-field-edit and one-adoption tests (the ``applied_base`` fixture in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from seg.embedded import open_embedded
from seg.kinds import KINDS
from seg.model.resource import CurrentResource
from tests.conftest import run_cli

WORKSPACE = "acme"
# The environment the base reads its secrets from (an alert's Slack webhook must come from it).
ENVIRONMENT = {
    "SEG_TEST_ALERT_WEBHOOK": "https://hooks.slack.com/services/T000/B000/base-secret",
    "SEG_TEST_ALERT_WEBHOOK_2": "https://hooks.slack.com/services/T000/B000/edited-secret",
}
Doc = dict[str, Any]
Key = tuple[str, str]  # (kind, YAML name)
SCHEMA = {"type": "object"}
INSERT_CODE = "async function onTrack(event) {\n  return event\n}\n"


def rule(kind: str, key: str | None = None, version: int = 1, schema: Doc | None = None) -> Doc:
    out: Doc = {"type": kind, "version": version, "json_schema": schema or dict(SCHEMA)}
    if key is not None:
        out["key"] = key
    return out


def base_documents() -> dict[Key, Doc]:
    """One of each kind, every mutable field set (mappings: one per side of the exclusive
    groups), kept inactive so the models-in-use policy does not block a model's edit."""
    docs: list[Doc] = [
        {"kind": "Label", "name": "team:growth", "spec": {"description": "Growth"}},
        {"kind": "Label", "name": "team:core", "spec": {}},
        {"kind": "Group", "name": "eng",
         "spec": {"display_name": "Eng", "members": ["a@example.com"]}},
        {"kind": "TrackingPlan", "name": "tp-a",
         "spec": {"display_name": "A", "description": "plan a",
                  "rules": [rule("COMMON"), rule("TRACK", "Order Completed")]}},
        {"kind": "TrackingPlan", "name": "tp-b", "spec": {"rules": []}},
        {"kind": "Source", "name": "web",
         "spec": {"catalog": "javascript", "display_name": "Web", "enabled": True,
                  "settings": {"cookie_domain": "a.example",
                               "consent_settings": {"all_categories": ["C0001"]}},
                  "tracking_plan": "tp-a", "labels": {"team": "growth"},
                  "schema_settings": {"track": {"allow_unplanned_event_properties": False}}}},
        {"kind": "Source", "name": "wh", "spec": {"catalog": "postgres",
                                                  "settings": {"host": "db", "database": "a"}}},
        {"kind": "RoleBinding", "name": "rb",
         "spec": {"subject": {"user": "a@example.com"}, "role": "source_read_only",
                  "scope": {"sources": ["web"]}}},
        {"kind": "Function", "name": "fn-dst",
         "spec": {"type": "destination", "display_name": "To CRM", "description": "crm",
                  "code": "async function onTrack(event) {\n  return event\n}\n",
                  "settings": [{"name": "region", "type": "string"}], "deploy": "latest"}},
        {"kind": "Function", "name": "fn-ins", "spec": {"type": "insert", "code": INSERT_CODE}},
        {"kind": "Function", "name": "fn-ins2", "spec": {"type": "insert", "code": INSERT_CODE}},
        {"kind": "Warehouse", "name": "lake",
         "spec": {"catalog": "snowflake", "display_name": "Lake", "enabled": True,
                  "settings": {"account": "a", "database": "d", "warehouse": "w", "user": "u",
                               "password": "p"},
                  "sync_schedule": {"every": "6h"}, "sources": ["web"],
                  "selective_sync": {"web": {"collections": {"page": {"enabled": False}}}}}},
        {"kind": "Destination", "name": "ga",
         "spec": {"source": "web", "catalog": "google-analytics", "display_name": "GA",
                  "enabled": False, "connection_mode": "cloud",
                  "settings": {"domain": "auto"}}},
        {"kind": "Destination", "name": "braze",
         "spec": {"source": "wh", "catalog": "braze", "insert_function": "fn-ins",
                  "insert_function_enabled": True}},
        {"kind": "Model", "name": "users",
         "spec": {"source": "wh", "description": "Users", "enabled": True,
                  "query": "SELECT id, email FROM users", "identifier_column": "id"}},
        {"kind": "Model", "name": "accounts",
         "spec": {"source": "wh", "query": "SELECT id, name FROM accounts",
                  "identifier_column": "id"}},
        {"kind": "Model", "name": "linked",  # reads a dbt model (no project here to check)
         "spec": {"source": "wh", "dbt_model": "users", "dbt_project": "analytics",
                  "identifier_column": "id"}},
        {"kind": "DestinationFilter", "name": "f",
         "spec": {"destination": "web/ga", "title": "Drop tests", "description": "d",
                  "if": "type = 'track'", "actions": [{"type": "DROP"}], "enabled": True}},
        {"kind": "Mapping", "name": "m-ev",
         "spec": {"destination": "web/ga", "action": "track", "enabled": False,
                  "fields": {"event": "event"}, "trigger": "type = 'track'"}},
        {"kind": "Alert", "name": "ga-delivery",
         "spec": {"source": "web", "type": "delivery_rate", "destination": "ga",
                  "threshold_percent": 95, "channels": ["in_app", "slack"],
                  "slack_webhook_url": "${env:SEG_TEST_ALERT_WEBHOOK}", "enabled": True}},
        {"kind": "Mapping", "name": "m-etl",
         "spec": {"destination": "wh/braze", "action": "updateUserProfile", "enabled": False,
                  "model": "users", "fields": {"external_id": "id"},
                  "schedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}}}},
        {"kind": "Transformation", "name": "t-ev",
         "spec": {"source": "web", "type": "rename_event", "event": "Order Completed",
                  "display_name": "Rename orders", "new_event_name": "Order Placed",
                  "enabled": True}},
        {"kind": "Transformation", "name": "t-props",
         "spec": {"source": "web", "type": "rename_properties", "event": "Product Viewed",
                  "property_renames": [{"from": "sku", "to": "product_id"}]}},
        {"kind": "Transformation", "name": "t-vals",
         "spec": {"source": "web", "type": "transform_values", "event": "Cart Viewed",
                  "value_transforms": [{"paths": ["currency"], "value": "USD"}]}},
        {"kind": "Transformation", "name": "t-fql",
         "spec": {"source": "web", "type": "fql_defined_properties", "event": "Signed Up",
                  "fql_defined_properties": [{"property": "properties.plan",
                                              "fql": "lowercase(properties.plan)"}]}},
        {"kind": "ConsentCategory", "name": "Advertising",
         "spec": {"display_name": "Advertising", "destinations": ["web/ga"], "enabled": True}},
    ]  # fmt: skip
    return {(d["kind"], d["name"]): d for d in docs}


def documents_text(docs: dict[Key, Doc]) -> str:
    """``docs`` as the one file ``resources.yaml`` holds them."""
    return yaml.safe_dump_all(list(docs.values()), sort_keys=False)


def write_documents(root: Path, docs: dict[Key, Doc]) -> None:
    (root / "resources.yaml").write_text(documents_text(docs), encoding="utf-8")


def apply(root: Path) -> None:
    result = run_cli("apply", "-w", str(root), "--auto-approve")
    assert result.exit_code == 0, result.output


def assert_plan_empty(root: Path) -> None:
    result = run_cli("plan", "-w", str(root), "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "No changes." in result.output, result.output


def live_state(root: Path) -> dict[tuple[str, str], CurrentResource]:
    """Every resource the control plane holds, by (kind, address), through the API."""
    client = open_embedded(root, WORKSPACE)
    try:
        return {(r.kind.name, r.address): r for r in client.read_state()}
    finally:
        client.close()


# (kind, field) → (the resource edited, its new YAML value)
EDITS: dict[tuple[str, str], tuple[Key, Any]] = {
    ("Label", "description"): (("Label", "team:growth"), "Growth team"),
    ("Group", "display_name"): (("Group", "eng"), "Engineering"),
    ("Group", "members"): (("Group", "eng"), ["a@example.com", "b@example.com"]),
    ("TrackingPlan", "display_name"): (("TrackingPlan", "tp-a"), "A, renamed"),
    ("TrackingPlan", "description"): (("TrackingPlan", "tp-a"), "plan a, edited"),
    ("TrackingPlan", "rules"): (
        ("TrackingPlan", "tp-a"),
        [rule("COMMON"), rule("IDENTIFY"), rule("TRACK", "Order Completed")],  # in the middle
    ),
    ("Source", "display_name"): (("Source", "web"), "Web site"),
    ("Source", "enabled"): (("Source", "web"), False),
    ("Source", "settings"): (
        ("Source", "web"),
        {"cookie_domain": "b.example", "consent_settings": {"all_categories": ["C0002"]}},
    ),  # fmt: skip
    ("Source", "tracking_plan"): (("Source", "web"), "tp-b"),
    ("Source", "labels"): (("Source", "web"), {"team": "core"}),
    ("Source", "schema_settings"): (
        ("Source", "web"),
        {"track": {"allow_unplanned_events": False, "common_event_on_violations": "Block Event"},
         "identify": {"allow_unplanned_traits": False}},
    ),  # fmt: skip
    ("RoleBinding", "subject"): (("RoleBinding", "rb"), {"user": "b@example.com"}),
    ("RoleBinding", "role"): (("RoleBinding", "rb"), "source_admin"),
    ("RoleBinding", "scope"): (("RoleBinding", "rb"), {"labels": {"team": "growth"}}),
    ("Destination", "display_name"): (("Destination", "ga"), "Google Analytics"),
    ("Destination", "enabled"): (("Destination", "ga"), True),
    ("Destination", "connection_mode"): (("Destination", "ga"), "device"),
    ("Destination", "settings"): (("Destination", "ga"), {"domain": "example.com"}),
    ("Warehouse", "display_name"): (("Warehouse", "lake"), "Data lake"),
    ("Warehouse", "enabled"): (("Warehouse", "lake"), False),
    ("Warehouse", "settings"): (
        ("Warehouse", "lake"),
        {"account": "a", "database": "other", "warehouse": "w", "user": "u", "password": "p"},
    ),  # fmt: skip
    ("Warehouse", "sync_schedule"): (("Warehouse", "lake"), {"start_times": ["02:00"]}),
    ("Warehouse", "sources"): (("Warehouse", "lake"), ["web", "wh"]),
    ("Warehouse", "selective_sync"): (
        ("Warehouse", "lake"),
        {"web": {"collections": {"page": {"properties": {"url": False}}}}},
    ),  # fmt: skip
    ("Destination", "insert_function"): (("Destination", "braze"), "fn-ins2"),
    ("Destination", "insert_function_enabled"): (("Destination", "braze"), False),
    ("Function", "display_name"): (("Function", "fn-dst"), "To the CRM"),
    ("Function", "description"): (("Function", "fn-dst"), "crm, edited"),
    ("Function", "code"): (("Function", "fn-dst"), "function onIdentify(e) {\n  return e\n}\n"),
    ("Function", "settings"): (
        ("Function", "fn-dst"),
        [{"name": "region", "type": "string"}, {"name": "token", "encrypted": True}],
    ),  # fmt: skip
    ("Function", "deploy"): (("Function", "fn-dst"), 1),
    ("Model", "description"): (("Model", "users"), "All users"),
    ("Model", "enabled"): (("Model", "users"), False),
    ("Model", "query"): (("Model", "users"), "SELECT id, email, name FROM users"),
    ("Model", "identifier_column"): (("Model", "users"), "email"),
    ("Model", "dbt_model"): (("Model", "linked"), "stg_users"),
    ("Model", "dbt_project"): (("Model", "linked"), "shop"),
    ("DestinationFilter", "title"): (("DestinationFilter", "f"), "Drop test traffic"),
    ("DestinationFilter", "description"): (("DestinationFilter", "f"), "edited"),
    ("DestinationFilter", "if"): (("DestinationFilter", "f"), "type = 'identify'"),
    ("DestinationFilter", "actions"): (
        ("DestinationFilter", "f"),
        [{"type": "SAMPLE", "percent": 0.5}],
    ),  # fmt: skip
    ("DestinationFilter", "enabled"): (("DestinationFilter", "f"), False),
    ("Alert", "threshold_percent"): (("Alert", "ga-delivery"), 99.5),
    ("Alert", "channels"): (("Alert", "ga-delivery"), ["slack", "email", "in_app"]),
    ("Alert", "slack_webhook_url"): (("Alert", "ga-delivery"), "${env:SEG_TEST_ALERT_WEBHOOK_2}"),
    ("Alert", "enabled"): (("Alert", "ga-delivery"), False),
    ("Mapping", "enabled"): (("Mapping", "m-ev"), True),
    ("Mapping", "fields"): (("Mapping", "m-ev"), {"event": "event", "user": "userId"}),
    ("Mapping", "trigger"): (("Mapping", "m-ev"), "type = 'identify'"),
    ("Mapping", "model"): (("Mapping", "m-etl"), "accounts"),
    ("Mapping", "schedule"): (("Mapping", "m-etl"), {"strategy": "MANUAL"}),
    ("Transformation", "display_name"): (("Transformation", "t-ev"), "Orders, renamed"),
    ("Transformation", "enabled"): (("Transformation", "t-ev"), False),
    ("Transformation", "new_event_name"): (("Transformation", "t-ev"), "Order Done"),
    ("Transformation", "property_renames"): (
        ("Transformation", "t-props"),
        [{"from": "sku", "to": "productId"}, {"from": "order\\.id", "to": "order.id"}],
    ),  # fmt: skip
    ("Transformation", "value_transforms"): (
        ("Transformation", "t-vals"),
        [{"paths": ["currency", "shipping.region"], "value": "EU"}],
    ),  # fmt: skip
    ("Transformation", "fql_defined_properties"): (
        ("Transformation", "t-fql"),
        [{"property": "properties.plan", "fql": "uppercase(properties.plan)"}],
    ),  # fmt: skip
    ("ConsentCategory", "display_name"): (("ConsentCategory", "Advertising"), "Ads"),
    ("ConsentCategory", "destinations"): (
        ("ConsentCategory", "Advertising"),
        ["wh/braze", "web/ga"],
    ),  # fmt: skip
    ("ConsentCategory", "enabled"): (("ConsentCategory", "Advertising"), False),
}

MUTABLE = sorted((k.name, f.name) for k in KINDS.values() for f in k.fields if not f.immutable)
