"""Generate a workspace of about N resources of mixed kinds.

Event sources get three destinations each; every fifth source is a warehouse with two models
(one from a .sql file) and a destination with two Reverse ETL mappings.

    python benchmarks/generate.py DIR --resources 10000 [--workspace bench]
"""

from __future__ import annotations

import argparse
from pathlib import Path

CATALOGS = ["javascript", "ios", "android", "http-api"]
DESTINATIONS = ["amplitude", "mixpanel", "webhook"]


def _event_source(i: int, name: str) -> list[str]:
    docs = [
        f"kind: Source\nname: {name}\nspec:\n  display_name: Source {i}\n"
        f"  catalog: {CATALOGS[i % len(CATALOGS)]}\n  enabled: true\n"
        f"  settings:\n    sample_rate: {i % 100}\n    team: team-{i % 7}\n"
    ]
    for j, catalog in enumerate(DESTINATIONS):
        docs.append(
            f"kind: Destination\nname: {catalog}\nspec:\n  source: {name}\n"
            f"  catalog: {catalog}\n  enabled: {'true' if (i + j) % 2 else 'false'}\n"
            f"  connection_mode: cloud\n  settings:\n    api_key: ${{env:BENCH_API_KEY}}\n"
            f"    region: {'eu' if j % 2 else 'us'}\n    batch_size: {100 + j}\n"
        )
    return docs


def _warehouse(i: int, name: str, folder: Path) -> list[str]:
    (folder / f"{name}-users.sql").write_text(
        f"SELECT id AS user_id, email, plan, score_{i} AS score FROM analytics.users_{i}\n"
    )
    docs = [
        f"kind: Source\nname: {name}\nspec:\n  catalog: postgres\n"
        f"  settings:\n    host: db-{i}.internal\n    password: ${{env:BENCH_API_KEY}}\n",
        f"kind: Destination\nname: braze\nspec:\n  source: {name}\n  catalog: braze\n"
        "  enabled: true\n",
        f"kind: Model\nname: users\nspec:\n  source: {name}\n  query_file: {name}-users.sql\n"
        "  identifier_column: user_id\n",
        f"kind: Model\nname: accounts\nspec:\n  source: {name}\n"
        f"  query: SELECT id, name, mrr FROM analytics.accounts_{i}\n  identifier_column: id\n",
    ]
    for model, fields in (("users", "email: email"), ("accounts", "name: name")):
        docs.append(
            f"kind: Mapping\nname: {model}-sync\nspec:\n  destination: {name}/braze\n"
            f"  action: identifyUser\n  enabled: true\n  model: {model}\n"
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
    count = i = 0
    while True:
        name = f"src-{i:05d}"
        if i % 5 == 4:
            docs = _warehouse(i, name, folder)
        else:
            docs = _event_source(i, name)
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
