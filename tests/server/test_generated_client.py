"""A Python client generated from the live /openapi.json by a real generator
(openapi-python-client, offline, into tmp_path) makes a round trip against the control plane.

openapi-python-client pins ``typer<0.28``, which cannot share an environment with seg's CLI
(typer 0.27 with a current click loses ``seg serve --port``), so it is not a dependency of
seg's extras: ``.ci/run`` installs it on its own path (``pip install --target``), as it does
actionlint, and this test runs it there; it installs it itself when that directory is missing.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import Api

PACKAGE = "seg_api_client"
REPO = Path(__file__).resolve().parents[2]
GENERATOR_DIR = REPO / ".ci" / "openapi-python-client"
GENERATOR = "openapi-python-client>=0.29,<0.30"


def _generator_env() -> dict[str, str]:
    if not (GENERATOR_DIR / "openapi_python_client").is_dir():
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                               str(GENERATOR_DIR), GENERATOR],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
    return {**os.environ, "PYTHONPATH": str(GENERATOR_DIR)}


@pytest.fixture
def generated(api: Api, tmp_path: Path) -> Iterator[ModuleType]:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(api.client(None).get("/openapi.json").json()))
    config = tmp_path / "generator.yaml"
    config.write_text(f"project_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"
                      "post_hooks: []\n")  # fmt: skip
    made = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec),
         "--meta", "none", "--output-path", str(tmp_path / PACKAGE), "--config", str(config),
         "--fail-on-warning"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_generator_env(),
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_generated_client_creates_reads_and_lists_a_source(api: Api, generated) -> None:
    create_source = importlib.import_module(f"{PACKAGE}.api.source.create_source")
    get_source = importlib.import_module(f"{PACKAGE}.api.source.get_source")
    list_sources = importlib.import_module(f"{PACKAGE}.api.source.list_sources")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated.AuthenticatedClient(
        base_url="http://embedded", token=api.owner_token,
        httpx_args={"transport": api.transport},
    )  # fmt: skip
    name = f"workspaces/{api.workspace}/sources/web"
    fields = models.SourceFields(name=name, catalog="javascript", display_name="Web")
    created = create_source.sync(api.workspace, client=client,
                                 body=models.SourceCreate(source=fields, manager="seg"))  # fmt: skip
    assert isinstance(created, models.Source)
    assert (created.name, created.catalog, created.enabled) == (name, "javascript", True)
    assert created.manager == "seg" and created.etag

    read = get_source.sync(api.workspace, "web", client=client)
    assert isinstance(read, models.Source)
    assert read.to_dict() == created.to_dict()

    page = list_sources.sync(api.workspace, client=client, page_size=10)
    assert isinstance(page, models.SourceList)
    assert [s.name for s in page.sources] == [name] and page.next_page_token == ""

    missing = get_source.sync_detailed(api.workspace, "nope", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error) and missing.parsed.code == 5

    anonymous = generated.Client(base_url="http://embedded",
                                 httpx_args={"transport": api.transport})  # fmt: skip
    refused = list_sources.sync_detailed(api.workspace, client=anonymous)
    assert refused.status_code == 401 and refused.parsed.code == 16
