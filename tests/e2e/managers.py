"""Trees with their own managers on one control plane: the helpers of the ownership tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from tests.e2e.processes import Server, run

SOURCE = "kind: Source\nname: {name}\nspec:\n  catalog: javascript\n"


class Workspace:
    """A fresh control-plane workspace on the shared server, and raw API calls to it."""

    def __init__(self, server: Server, slug: str) -> None:
        made = run("server", "init", "--slug", slug, "-o", "json", env=server.env)
        assert made.returncode == 0, made.stderr
        self.slug, self.server = slug, server
        self.env = {**server.client_env(), "SEG_TOKEN": json.loads(made.stdout)["token"]}

    def call(self, method: str, path: str, body: object = None) -> dict:
        r = httpx.request(method, f"{self.server.url}/v1beta/workspaces/{self.slug}/{path}",
                          json=body, headers={"Authorization": f"Bearer {self.env['SEG_TOKEN']}"})
        assert r.status_code == 200, r.text
        result: dict = r.json()
        return result

    def make_source(self, name: str, **fields: object) -> None:
        body = {"name": f"workspaces/{self.slug}/sources/{name}", "catalog": "javascript"}
        self.call("POST", "sources", {"source": {**body, **fields}})

    def managers(self, collection: str = "sources") -> dict[str, str]:
        key = collection.rsplit("/", 1)[-1]
        items = self.call("GET", collection + "?page_size=1000")[key]
        return {item["name"].split(f"{self.slug}/", 1)[1]: item["manager"] for item in items}


def tree(root: Path, slug: str, docs: dict[str, str], extra: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n{extra}")
    for name, text in docs.items():
        (root / name).write_text(text)
    return root


def seg(*args: str, env: dict[str, str], code: int = 0) -> subprocess.CompletedProcess[str]:
    done = run(*args, env=env)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done
