"""Attack: make seg print or return a value from ``${env:…}`` — at any depth (a scalar, in a
list, in a list of maps, in a map inside a list, an FQL ``if``, an immutable field) and on every
channel: plan text/JSON/markdown, saved plans, --debug, apply output, errors, export, the API
(read token, GET and list), the audit trail and the database bytes. Also: the digest a read
token sees cannot be checked offline, and plans stay free of perpetual diffs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import httpx
import sqlalchemy as sa
from typer.testing import CliRunner

from seg.commands.app import app
from seg.model.secrets import DIGEST_PREFIX, LEGACY_PREFIX, is_digest
from seg.store.sql import normalise_url
from tests.conftest import Api, run_cli
from tests.e2e.processes import Server
from tests.helpers import WAREHOUSE_SETTINGS

SECRETS = {
    "S_SCALAR": "scalar-SECRET-1a2b",
    "S_LIST": "list-SECRET-3c4d",
    "S_LISTMAP": "listmap-SECRET-5e6f",
    "S_MAPINLIST": "mapinlist-SECRET-7g8h",
    "S_FQL": "userId = 'fql-SECRET-9i0j'",
    # an immutable field (a change replaces the source): a real catalog id, which must not
    # show either
    "S_CATALOG": "javascript",
}
# Where each one lands, as ``seg export`` names it (address, path).
WHERE = {
    "S_SCALAR": "settings.consent_settings.endpoint",
    "S_LIST": "settings.consent_settings.hosts[1]",
    "S_LISTMAP": "settings.consent_settings.servers[0].key",
    "S_MAPINLIST": "settings.consent_settings.nested[0].opts.inner",
    "S_FQL": "if",
    "S_CATALOG": "catalog",
}

WORKSPACE = """\
kind: Source
name: web
spec:
  catalog: ${env:S_CATALOG}
  settings:
    consent_settings:
      endpoint: ${env:S_SCALAR}
      hosts: [plain-host, "${env:S_LIST}"]
      servers:
        - name: primary
          key: ${env:S_LISTMAP}
      nested:
        - opts:
            inner: ${env:S_MAPINLIST}
            plain: visible
---
kind: Destination
name: amp
spec:
  source: web
  catalog: amplitude
---
kind: DestinationFilter
name: drop
spec:
  destination: web/amp
  title: Drop one user
  if: ${env:S_FQL}
  actions:
    - type: DROP
"""


def leaks(text: str | bytes, values: list[str] | None = None) -> list[str]:
    """The secret values (or parts of them that identify them) found in ``text``."""
    blob = text if isinstance(text, str) else text.decode("utf-8", "replace")
    found = []
    for value in values or list(SECRETS.values()):
        marker = value.split("'")[1] if "'" in value else value
        if marker in blob:
            found.append(marker)
    return found


def database_text(srv: Server, workspace: str) -> bytes:
    """SQLite: every byte of the database, its -wal and -shm. PostgreSQL: every column of the
    workspace's resource and audit rows, as text (the test database is shared)."""
    url = srv.env["SEG_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        files = sorted(path.parent.glob(path.name + "*"))
        assert path in files
        return b"".join(f.read_bytes() for f in files)
    engine = sa.create_engine(normalise_url(url))
    with engine.connect() as conn:
        where = {"ws": workspace}
        rows = conn.execute(sa.text("SELECT r::text FROM resources r WHERE r.workspace = :ws"),
                            where).all()  # fmt: skip
        rows += conn.execute(
            sa.text("SELECT a::text FROM audit_events a WHERE a.workspace = :ws"), where
        ).all()
    engine.dispose()
    return "\n".join(r[0] for r in rows).encode()


def test_secrets_at_every_depth_never_leak_on_any_channel(
    server: Server,  # noqa: F811
    write_workspace,
    slug: str,
    tmp_path: Path,
) -> None:
    root = write_workspace({"workspace.yaml": WORKSPACE}, workspace=slug)
    env = server.client_env(**SECRETS)
    outputs: list[str] = []

    def seg(*args: str, code: int = 0, **extra: str) -> str:
        """``seg`` in-process (the server is a real ``seg serve`` process); stdout only."""
        done = CliRunner().invoke(app, list(args), env={**env, **extra})
        outputs.extend([done.stdout, done.stderr])
        assert done.exit_code == code, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return done.stdout

    saved = tmp_path / "plan.json"
    seg("plan", "-w", str(root), "-o", "markdown", "--out", str(saved), "--debug")
    outputs.append(saved.read_text())  # the saved plan holds the JSON plan
    seg("apply", str(saved), "-w", str(root))
    assert "No changes" in seg("plan", "-w", str(root), "--detailed-exitcode")

    # A read token sees digests only, in GET and in lists.
    reader = seg("server", "token", "create", "--slug", slug, "--scope", "workspace:read",
                 "--description", "reader").strip()  # fmt: skip
    read = httpx.Client(base_url=f"{server.url}/v1beta/workspaces/{slug}",
                        headers={"Authorization": f"Bearer {reader}"})  # fmt: skip
    source = read.get("/sources/web").json()
    paths = ("/sources/web", "/sources", "/sources/web/destinations/amp/filters/drop",
             "/sources/-/destinations/-/filters", "/audit-events")  # fmt: skip
    api_texts = [read.get(p).text for p in paths]
    assert all('"error"' not in text for text in api_texts), api_texts
    consent = source["settings"]["consent_settings"]
    assert consent["hosts"][0] == "plain-host"
    assert is_digest(consent["hosts"][1])
    assert is_digest(consent["servers"][0]["key"])
    assert consent["servers"][0]["name"] == "primary"
    assert is_digest(consent["nested"][0]["opts"]["inner"])
    assert consent["nested"][0]["opts"]["plain"] == "visible"
    assert is_digest(source["catalog"]) and is_digest(consent["endpoint"])

    # Export writes placeholders at the leaves and round-trips to an empty plan.
    exported = tmp_path / "exported"
    seg("export", "-w", str(exported), "--slug", slug)
    files = {p: p.read_text() for p in exported.rglob("*") if p.is_file()}
    # the editor schemas are seg's own text (they name catalog ids such as the secret one)
    outputs += [t for p, t in files.items() if ".seg-schema" not in p.parts]
    listing = files[exported / "secrets.env.example"]
    names = {}
    for line in listing.splitlines()[1:]:
        var, where = line.split("=  # ")
        key = next(k for k, w in WHERE.items() if where.endswith(" " + w))
        names[var] = SECRETS[key]
    assert len(names) == len(SECRETS)
    seg("plan", "-w", str(exported), "--detailed-exitcode", **names)

    # Changing one secret in a list: exactly one update, shown as (sensitive); the saved plan
    # refuses when the secret changed again before apply (exit 4).
    changed = {"S_LIST": "list-SECRET-changed-0000"}
    plan = json.loads(seg("plan", "-w", str(root), "-o", "json", "--out", str(saved), **changed))
    outputs.append(saved.read_text())
    (change,) = plan["changes"]
    assert change["action"] == "update"
    assert change["update_mask"] == ["source.settings.consent_settings.hosts"]
    (fc,) = change["field_changes"]
    assert fc["sensitive"] and fc["after"] == "(sensitive)"
    seg("apply", str(saved), "-w", str(root), code=4, S_LIST="list-SECRET-other-1111")
    assert "their secret values changed" in outputs[-1]
    seg("apply", str(saved), "-w", str(root), **changed)

    # The immutable field: a replace whose reason names no value.
    replaced = {"S_CATALOG": "android", **changed}
    text = seg("plan", "-w", str(root), **replaced)
    assert "Plan: 3 to add, 0 to change, 3 to destroy." in text  # the list secret is unchanged
    assert "catalog is immutable (the value from the environment differs)" in text
    # A bad FQL expression from the environment: one error line, no value echoed.
    bad = {"S_FQL": "userId = = 'fql-SECRET-9i0j'", **changed}
    seg("plan", "-w", str(root), "--debug", code=1, **bad)
    assert re.search(r"workspace\.yaml:\d+:\d+: .*the value from the environment", outputs[-1])

    outputs += api_texts + [json.dumps(source), Path(server.log.name).read_text()]
    values = [*SECRETS.values(), *changed.values(), "android", "list-SECRET-other-1111"]
    for text in outputs:
        assert leaks(text, values) == [], text
    assert leaks(database_text(server, slug), values) == []


def test_a_read_tokens_digest_cannot_be_checked_offline(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    name = f"workspaces/{api.workspace}/sources/web/destinations/amp"
    body = {"destination": {"name": name, "catalog": "amplitude",
                            "settings": {"traits_to_append": ["a", "hunter2"], "api_key": "hunter2"}},
            "secret_paths": ["destination.settings.traits_to_append[1]"]}  # fmt: skip
    made = api.http.post(api.url("/sources/web/destinations"), json=body)
    assert made.status_code == 200, made.text
    reader = api.client(api.token("workspace:read"))
    got = reader.get(api.url("/sources/web/destinations/amp"))
    listed = reader.get(api.url("/sources/web/destinations")).json()["destinations"][0]
    item = got.json()
    digest = item["settings"]["traits_to_append"][1]
    assert digest.startswith(DIGEST_PREFIX) and listed["settings"] == item["settings"]
    assert "hunter2" not in got.text
    # Every salt-like piece of the response, with every way of hashing salt and value.
    pieces = set(re.findall(r"[A-Za-z0-9_]+", got.text)) | {""}
    hexes = {hashlib.sha256(f"{salt}{sep}hunter2".encode()).hexdigest()
             for salt in pieces for sep in ("", ":")}  # fmt: skip
    hexes.add(hashlib.sha256(b"hunter2").hexdigest())
    assert not any(h in got.text for h in hexes)
    # Bound to the resource and path: the same value elsewhere has another digest.
    assert item["settings"]["api_key"] != digest
    # Only the server can answer, online, for a token that may read; it is audited.
    # one guess per secret per request (so --rate-limit N bounds guesses per secret)
    for guess, matches in (("password", False), ("hunter2", True)):
        ask = [{"resource": name, "path": "settings.traits_to_append[1]", "value": guess}]
        answer = reader.post(api.url("/secrets:compare"), json={"secrets": ask}).json()
        assert answer["matches"] == [matches]
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert events[0]["resource"].endswith("/secrets:compare")
    assert events[0]["paths"] == [name, "values:1"]
    assert "hunter2" not in json.dumps(events) and "password" not in json.dumps(events)


def test_a_user_bound_token_learns_nothing_about_a_source_it_cannot_read(api: Api) -> None:
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "postgres",
                       "settings": {**WAREHOUSE_SETTINGS, "password": "hunter2"}}}  # fmt: skip
    assert api.http.post(api.url("/sources"), json=body).status_code == 200
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:read", "nobody", "nobody@x.io")
    nobody = api.client(secret)
    assert nobody.get(api.url("/sources/web")).status_code == 403
    ask = {"resource": f"workspaces/{api.workspace}/sources/web", "path": "settings.password",
           "value": "hunter2"}  # fmt: skip
    answer = nobody.post(api.url("/secrets:compare"), json={"secrets": [ask]})
    assert answer.status_code == 200 and answer.json()["matches"] == [False]
    owner = api.http.post(api.url("/secrets:compare"), json={"secrets": [ask]})
    assert owner.json()["matches"] == [True]


def test_compare_rejects_bad_questions_with_400(api: Api) -> None:
    api.create_source("web")
    name = f"workspaces/{api.workspace}/sources/web"
    bad_bodies = [
        {}, {"secrets": "x"}, {"secrets": [1]}, {"secrets": [{"resource": name}]},
        {"secrets": [{"resource": name, "path": "settings.[", "value": 1}]},
        {"secrets": [{"resource": "workspaces/other/sources/web", "path": "a", "value": 1}]},
        {"secrets": [{"resource": name, "path": "a", "value": 1}] * 1001},
    ]  # fmt: skip
    for body in bad_bodies:
        response = api.http.post(api.url("/secrets:compare"), json=body)
        assert response.status_code == 400 and response.json()["code"] == 3, body
    missing = {"resource": name.replace("web", "nope"), "path": "settings.x", "value": 1}
    answer = api.http.post(api.url("/secrets:compare"), json={"secrets": [missing]})
    assert answer.json()["matches"] == [False]


def test_an_update_mask_may_not_name_a_list_element(api: Api) -> None:
    api.create_source("web", settings={"hosts": ["a"]})
    body = {"source": {"settings": {"hosts": ["b"]}},
            "update_mask": {"paths": ["source.settings.hosts[0]"]}}  # fmt: skip
    response = api.http.patch(api.url("/sources/web"), json=body)
    assert response.status_code == 400 and "send the whole list" in response.json()["error"]


def test_tracking_plan_rules_cannot_be_marked_secret(api: Api) -> None:
    body = {"tracking_plan": {"external_id": "tp", "display_name": "TP",
                              "rules": [{"type": "TRACK", "key": "e", "version": 1,
                                         "json_schema": {}}]},
            "secret_paths": ["tracking_plan.rules[0].key"]}  # fmt: skip
    response = api.http.post(api.url("/tracking-plans"), json=body)
    assert response.status_code == 400 and "rules cannot hold secrets" in response.text


def test_a_sealed_digest_is_not_revalidated_as_a_typed_value(api: Api) -> None:
    """The catalog (a pattern) came from the environment: after sealing, a PATCH of another
    field must not fail on the digest standing where the pattern applies."""
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web",
                       "catalog": "javascript", "settings": {"cookie_domain": "x"}},
            "secret_paths": ["source.catalog"]}  # fmt: skip
    assert api.http.post(api.url("/sources"), json=body).status_code == 200
    patch = {"source": {"display_name": "Web"}, "update_mask": {"paths": ["source.display_name"]}}
    response = api.http.patch(api.url("/sources/web"), json=patch)
    assert response.status_code == 200, response.text
    assert "javascript" not in response.text
    bad = {"source": {"name": f"workspaces/{api.workspace}/sources/bad", "catalog": "NOT VALID"},
           "secret_paths": ["source.catalog"]}  # fmt: skip
    refused = api.http.post(api.url("/sources"), json=bad)
    assert refused.status_code == 400 and "NOT VALID" not in refused.text


def test_a_legacy_salted_digest_is_never_returned_and_still_compares(api: Api) -> None:
    """A database written before keyed digests holds ``secret:sha256:`` values: reads re-key
    them from the sealed value, and the next write stores the keyed form."""
    made = api.create_source("web", catalog="postgres",
                             settings={**WAREHOUSE_SETTINGS, "password": "old-pass"})
    assert made.status_code == 200, made.text
    name = f"workspaces/{api.workspace}/sources/web"
    with api.cp.store.tx() as tx:
        rec = tx.get_resource(name)
        assert rec is not None
        salt = "0011223344556677"
        hexdigest = hashlib.sha256(f"{salt}:old-pass".encode()).hexdigest()
        legacy = f"{LEGACY_PREFIX}{salt}:{hexdigest}"
        settings = {**rec.data["settings"], "password": legacy}
        tx.update_resource(replace(rec, data={**rec.data, "settings": settings}))
    got = api.http.get(api.url("/sources/web")).json()
    assert got["settings"]["password"].startswith(DIGEST_PREFIX)
    ask = {"resource": name, "path": "settings.password", "value": "old-pass"}
    answer = api.http.post(api.url("/secrets:compare"), json={"secrets": [ask]}).json()
    assert answer["matches"] == [True]
    patch = {"source": {"display_name": "x"}, "update_mask": {"paths": ["source.display_name"]}}
    assert api.http.patch(api.url("/sources/web"), json=patch).status_code == 200
    with api.cp.store.tx() as tx:
        stored = tx.get_resource(name)
    assert stored is not None and stored.data["settings"]["password"].startswith(DIGEST_PREFIX)


def test_errors_never_echo_a_value_from_the_environment(write_workspace, monkeypatch) -> None:
    long_secret = "long-SECRET-" + "x" * 300
    files = {
        "a.yaml": "kind: Source\nname: web\nspec:\n  catalog: javascript\n"
                  "  display_name: ${env:S_LONG}\n",
        "b.yaml": "kind: Source\nname: ios\nspec:\n  catalog: ${env:S_BADCAT}\n",
        "c.yaml": "kind: TrackingPlan\nname: tp\nspec:\n  display_name: TP\n  rules:\n"
                  "    - type: TRACK\n      key: ${env:S_RULE}\n      version: 1\n"
                  "      json_schema: {}\n",
    }  # fmt: skip
    root = write_workspace(files)
    monkeypatch.setenv("S_LONG", long_secret)
    monkeypatch.setenv("S_BADCAT", "BAD catalog-SECRET")
    monkeypatch.setenv("S_RULE", "rule-SECRET-event")
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1
    assert leaks(result.output, [long_secret[:20], "catalog-SECRET", "rule-SECRET"]) == []
    assert re.search(r"a\.yaml:5:\d+: .*the value from the environment", result.output)
    assert re.search(r"b\.yaml:4:\d+: .*the value from the environment", result.output)
    assert re.search(r"c\.yaml:7:\d+: .*rules cannot take values from the environment",
                     result.output)  # fmt: skip
