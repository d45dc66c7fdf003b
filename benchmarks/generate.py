"""Generate a workspace of about N resources of mixed kinds.

Event sources get three destinations each; every fifth source is a warehouse with two models
(one from a .sql file) and a destination with two Reverse ETL mappings. Functions (the
workspace's limit of 25: insert functions on Amplitude destinations, destination functions
deployed on some sources) and warehouses (one per fifty event sources, connecting them,
with selective sync) are mixed in. Settings fit the built-in catalog.

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


def _event_source(i: int, name: str) -> list[str]:
    catalog = CATALOGS[i % len(CATALOGS)]
    values = {"n": 10 + i % 90, "odd": "true" if i % 2 else "false", "name": name,
              "region": "eu" if i % 2 else "us", "region_upper": "EU" if i % 2 else "US",
              "team": i % 7}  # fmt: skip
    docs = [
        f"kind: Source\nname: {name}\nspec:\n  display_name: Source {i}\n"
        f"  catalog: {catalog}\n  enabled: true\n"
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
    count, i, sources = len(docs), 0, []
    while True:
        name = f"src-{i:05d}"
        if i % 5 == 4:
            docs = _reverse_etl(i, name, folder)
        else:
            docs = _event_source(i, name)
            sources.append(name)
        if len(sources) == SOURCES_PER_WAREHOUSE and count + len(docs) < resources:
            docs.append(_warehouse(i // SOURCES_PER_WAREHOUSE, sources))
            sources = []
        if count + len(docs) > resources:
            break
        (folder / f"{name}.yaml").write_text("---\n".join(docs))
        count += len(docs)
        i += 1
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
