"""Generate a workspace of N resources: sources, each with three destinations.

python benchmarks/generate.py DIR --resources 10000 [--workspace bench]
"""

from __future__ import annotations

import argparse
from pathlib import Path

CATALOGS = ["javascript", "ios", "android", "http-api", "python"]
DESTINATIONS = ["amplitude", "mixpanel", "webhook"]


def generate(root: Path, resources: int, workspace: str = "bench") -> int:
    """Write the workspace; returns the number of resources written."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {workspace}\n")
    sources_dir = root / "sources"
    sources_dir.mkdir(exist_ok=True)
    per_source = 1 + len(DESTINATIONS)
    count = 0
    for i in range(resources // per_source):
        name = f"src-{i:05d}"
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
        (sources_dir / f"{name}.yaml").write_text("---\n".join(docs))
        count += per_source
    return count


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
