"""Generate a workspace of about N resources of mixed kinds.

Event sources get three destinations each; every fifth source is a warehouse with two models
(one from a .sql file) and a destination with two Reverse ETL mappings. Functions (the
workspace's limit of 25: insert functions on Amplitude destinations, destination functions
deployed on some sources) and warehouses (one per fifty event sources, connecting them,
with selective sync) are mixed in. Settings fit the built-in catalog.

Protocols and alerts (issue 15): two tracking plans; every tenth web or mobile source is
connected to one with schema settings (web sources forward blocked events and violations to
an HTTP API source); a transformation under every fifth event source (renaming an event, or a
property defined in FQL scoped to its Amplitude destination); an alert under every eighth
event source (source volume, or a delivery rate alert on the webhook destination whose Slack
webhook comes from ${env:BENCH_SLACK_WEBHOOK}); advertising, CRM and email destinations on
some sources and three consent categories mapping each of them (at most 200 each).

    python benchmarks/generate.py DIR --resources 10000 [--workspace bench]
"""

from __future__ import annotations

import argparse
from pathlib import Path

SOURCE_SETTINGS = {
    "javascript": "track_pages: true\n    anonymize_ip: {odd}",
    "ios": "flush_at: {n}\n    record_screen_views: {odd}",
    "android": "flush_at: {n}\n    collect_device_id: {odd}",
    "http-api": "accept_batch: {odd}",
}
CATALOGS = list(SOURCE_SETTINGS)
DESTINATION_SETTINGS = {
    "amplitude": "api_key: ${{env:BENCH_API_KEY}}\n    region: {region}\n    batch_size: {n}",
    "mixpanel": "project_token: ${{env:BENCH_API_KEY}}\n    api_region: {region_upper}",
    "webhook": "url: https://hooks.example/{name}\n    headers: {{x-team: team-{team}}}",
}
DESTINATIONS = list(DESTINATION_SETTINGS)
INSERT_FUNCTIONS = 20  # plus DESTINATION_FUNCTIONS: within the workspace limit of 25
DESTINATION_FUNCTIONS = 4
SOURCES_PER_WAREHOUSE = 50
# Consent categories and the destination type each maps: one such destination per 25 event
# sources, the category listing every instance of its type (the platform maps them all).
CONSENT = {
    "Advertising": ("google-ads", "customer_id: 123-456-{n:04d}", 2),
    "Functional": ("hubspot", "access_token: ${{env:BENCH_API_KEY}}", 7),
    "Marketing": ("klaviyo", "api_key: ${{env:BENCH_API_KEY}}", 12),
}
MAX_CONSENT_DESTINATIONS = 200  # a category lists at most 200 destinations
PLAN_RULE = (
    "  - type: TRACK\n    key: {event}\n    version: 1\n    json_schema:\n"
    "      $schema: http://json-schema.org/draft-07/schema#\n      type: object\n"
    "      properties:\n        properties:\n          type: object\n"
    "          required: [{prop}]\n          properties: {{{prop}: {{type: string}}}}\n"
)
TRACKING_PLANS = {
    "web": (("Product Viewed", "product_id"), ("Order Completed", "order_id")),
    "mobile": (("Screen Viewed", "screen"), ("Signed Up", "user_id")),
}


def _schema_settings(i: int) -> str:
    """Every tenth web or mobile source is connected to a tracking plan with schema settings;
    web sources forward to the HTTP API source five before them (i % 20 == 15)."""
    if i % 20 == 0 and i >= 20:
        forward = f"src-{i - 5:05d}"
        return ("  tracking_plan: web\n  schema_settings:\n    track:\n"
                "      allow_unplanned_events: false\n"
                "      allow_unplanned_event_properties: false\n"
                "      common_event_on_violations: OMIT_PROPERTIES\n"
                f"    forwarding_blocked_events_to: {forward}\n"
                f"    forwarding_violations_to: {forward}\n")  # fmt: skip
    if i % 20 == 1:
        return ("  tracking_plan: mobile\n  schema_settings:\n"
                "    track: {allow_properties_on_violations: false}\n"
                "    identify: {allow_unplanned_traits: false}\n")  # fmt: skip
    return ""


def _protocols(i: int, name: str) -> list[str]:
    """A transformation under every fifth event source, an alert under every eighth."""
    docs = []
    if i % 10 == 3:
        docs.append(
            f"kind: Transformation\nname: rename-order\nspec:\n  source: {name}\n"
            "  type: rename_event\n  event: Order Completed\n  new_event_name: Order Placed\n"
        )
    elif i % 10 == 6:
        docs.append(
            f"kind: Transformation\nname: product-id-lower\nspec:\n  source: {name}\n"
            "  type: fql_defined_properties\n  event: Product Viewed\n  destination: amplitude\n"
            "  fql_defined_properties:\n    - property: properties.product_id\n"
            "      fql: lowercase(properties.product_id)\n"
        )
    if i % 16 == 2:
        docs.append(
            f"kind: Alert\nname: volume\nspec:\n  source: {name}\n  type: source_volume\n"
            f"  threshold_percent: {20 + i % 30}\n  channels: [in_app, email]\n"
        )
    elif i % 16 == 10:
        docs.append(
            f"kind: Alert\nname: webhook-delivery\nspec:\n  source: {name}\n"
            "  type: delivery_rate\n  destination: webhook\n  threshold_percent: 95\n"
            "  channels: [in_app, slack]\n  slack_webhook_url: ${env:BENCH_SLACK_WEBHOOK}\n"
        )
    return docs


def _consent_destinations(i: int, name: str, mapped: dict[str, list[str]]) -> list[str]:
    docs = []
    for category, (catalog, settings, remainder) in CONSENT.items():
        if i % 25 == remainder and len(mapped[category]) < MAX_CONSENT_DESTINATIONS:
            docs.append(
                f"kind: Destination\nname: {catalog}\nspec:\n  source: {name}\n"
                f"  catalog: {catalog}\n  enabled: true\n"
                f"  settings:\n    {settings.format(n=i % 10000)}\n"
            )
            mapped[category].append(f"{name}/{catalog}")
    return docs


def _consent_categories(mapped: dict[str, list[str]]) -> list[str]:
    return [
        f"kind: ConsentCategory\nname: {category}\nspec:\n  display_name: {category}\n"
        f"  destinations: [{', '.join(destinations)}]\n"
        for category, destinations in mapped.items()
        if destinations
    ]


def _tracking_plans() -> list[str]:
    return [
        f"kind: TrackingPlan\nname: {plan}\nspec:\n  display_name: {plan.title()} events\n"
        "  rules:\n" + "".join(PLAN_RULE.format(event=event, prop=prop) for event, prop in rules)
        for plan, rules in TRACKING_PLANS.items()
    ]


def _event_source(i: int, name: str) -> list[str]:
    catalog = CATALOGS[i % len(CATALOGS)]
    values = {"n": 10 + i % 90, "odd": "true" if i % 2 else "false", "name": name,
              "region": "eu" if i % 2 else "us", "region_upper": "EU" if i % 2 else "US",
              "team": i % 7}  # fmt: skip
    docs = [
        f"kind: Source\nname: {name}\nspec:\n  display_name: Source {i}\n"
        f"  catalog: {catalog}\n  enabled: true\n{_schema_settings(i)}"
        f"  settings:\n    {SOURCE_SETTINGS[catalog].format(**values)}\n"
    ]
    for j, dest in enumerate(DESTINATIONS):
        insert = ""
        if dest == "amplitude" and i % 3 == 0:
            insert = f"  insert_function: enrich-{i % INSERT_FUNCTIONS:02d}\n"
        docs.append(
            f"kind: Destination\nname: {dest}\nspec:\n  source: {name}\n"
            f"  catalog: {dest}\n  enabled: {'true' if (i + j) % 2 else 'false'}\n"
            f"  connection_mode: cloud\n{insert}"
            f"  settings:\n    {DESTINATION_SETTINGS[dest].format(**values)}\n"
        )
    if i % 40 == 1:
        docs.append(
            f"kind: Destination\nname: archive\nspec:\n  source: {name}\n"
            f"  function: archive-{i % DESTINATION_FUNCTIONS}\n  enabled: true\n"
            f"  settings: {{endpoint: https://archive.example/{name},"
            " token: '${env:BENCH_API_KEY}'}\n"
        )
    return docs


def _functions(folder: Path) -> list[str]:
    """The workspace's functions: insert functions and destination functions (code files)."""
    docs = []
    for k in range(INSERT_FUNCTIONS):
        (folder / f"enrich-{k:02d}.js").write_text(
            f"async function onTrack(event, settings) {{\n  event.properties.shard = {k};\n"
            "  return event;\n}\n"
        )
        docs.append(
            f"kind: Function\nname: enrich-{k:02d}\nspec:\n  type: insert\n"
            f"  display_name: Enrich {k}\n  code_file: enrich-{k:02d}.js\n"
        )
    for k in range(DESTINATION_FUNCTIONS):
        (folder / f"archive-{k}.js").write_text(
            "async function onTrack(event, settings) {\n"
            "  await fetch(settings.endpoint, {method: 'POST', body: JSON.stringify(event)});\n"
            "}\n"
        )
        docs.append(
            f"kind: Function\nname: archive-{k}\nspec:\n  type: destination\n"
            f"  code_file: archive-{k}.js\n  settings:\n"
            "    - {name: endpoint, type: string, required: true}\n"
            "    - {name: token, type: string, encrypted: true}\n"
        )
    return docs


def _warehouse(k: int, sources: list[str]) -> str:
    sync = "".join(
        f"    {name}:\n      collections:\n        pages: {{enabled: false}}\n"
        for name in sources[:5]
    )
    return (
        f"kind: Warehouse\nname: lake-{k:03d}\nspec:\n  catalog: snowflake\n  enabled: true\n"
        "  settings:\n    account: acme\n    database: SEGMENT\n    warehouse: LOADING\n"
        "    user: segment\n    password: ${env:BENCH_API_KEY}\n"
        f"  sources: [{', '.join(sources)}]\n  selective_sync:\n{sync}"
    )


def _reverse_etl(i: int, name: str, folder: Path) -> list[str]:
    (folder / f"{name}-users.sql").write_text(
        f"SELECT id AS user_id, email, plan, score_{i} AS score FROM analytics.users_{i}\n"
    )
    docs = [
        f"kind: Source\nname: {name}\nspec:\n  catalog: postgres\n"
        f"  settings:\n    host: db-{i}.internal\n    database: analytics\n"
        "    password: ${env:BENCH_API_KEY}\n",
        f"kind: Destination\nname: braze\nspec:\n  source: {name}\n  catalog: braze\n"
        "  enabled: true\n  settings: {api_key: '${env:BENCH_API_KEY}'}\n",
        f"kind: Model\nname: users\nspec:\n  source: {name}\n  query_file: {name}-users.sql\n"
        "  identifier_column: user_id\n",
        f"kind: Model\nname: accounts\nspec:\n  source: {name}\n"
        f"  query: SELECT id, name, mrr FROM analytics.accounts_{i}\n  identifier_column: id\n",
    ]
    for model, fields in (("users", "email: email"), ("accounts", "first_name: name")):
        docs.append(
            f"kind: Mapping\nname: {model}-sync\nspec:\n  destination: {name}/braze\n"
            f"  action: updateUserProfile\n  enabled: true\n  model: {model}\n"
            f"  schedule: {{strategy: PERIODIC, config: {{interval: 1h}}}}\n"
            f"  fields: {{{fields}}}\n"
        )
    return docs


def generate(root: Path, resources: int, workspace: str = "bench") -> int:
    """Write the workspace; returns the number of resources written."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {workspace}\n")
    folder = root / "sources"
    folder.mkdir(exist_ok=True)
    functions = root / "functions"
    functions.mkdir(exist_ok=True)
    docs = _functions(functions)
    (functions / "functions.yaml").write_text("---\n".join(docs))
    protocols = root / "protocols"
    protocols.mkdir(exist_ok=True)
    plans = _tracking_plans()
    (protocols / "tracking-plans.yaml").write_text("---\n".join(plans))
    mapped: dict[str, list[str]] = {category: [] for category in CONSENT}
    count, i, sources = len(docs) + len(plans), 0, []
    while True:
        name = f"src-{i:05d}"
        if i % 5 == 4:
            docs = _reverse_etl(i, name, folder)
        else:
            docs = _event_source(i, name) + _protocols(i, name)
            sources.append(name)
        # the consent categories come last: room for the ones this source would start
        before = {category: len(found) for category, found in mapped.items()}
        if i % 5 != 4:
            docs += _consent_destinations(i, name, mapped)
        categories = sum(1 for found in mapped.values() if found)
        if len(sources) == SOURCES_PER_WAREHOUSE and count + len(docs) + categories < resources:
            docs.append(_warehouse(i // SOURCES_PER_WAREHOUSE, sources))
            sources = []
        if count + len(docs) + categories > resources:
            for category, length in before.items():
                del mapped[category][length:]
            break
        (folder / f"{name}.yaml").write_text("---\n".join(docs))
        count += len(docs)
        i += 1
    consent = _consent_categories(mapped)
    if consent:
        (protocols / "consent.yaml").write_text("---\n".join(consent))
        count += len(consent)
    fill = [f"kind: Source\nname: extra-{k:02d}\nspec: {{catalog: python}}\n"
            for k in range(resources - count)]  # fmt: skip
    if fill:
        (folder / "extra.yaml").write_text("---\n".join(fill))
    return count + len(fill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--workspace", default="bench")
    args = parser.parse_args()
    n = generate(args.dir, args.resources, args.workspace)
    print(f"wrote {n} resources to {args.dir}")


if __name__ == "__main__":
    main()
