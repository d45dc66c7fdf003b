"""Review of issue 15: ``Kind.normalize`` reorders lists (a source's ``blocked_events`` sorted
without repeats, an alert's ``channels``). A value written ``${env:…}`` in such a list is a
secret at its index; the control plane must seal that value wherever normalize moves it, never
store it in clear (nor seal the public value it swapped places with) — through seg apply and a
raw API write, on SQLite and PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api, embedded_call
from tests.conftest import run_cli as seg

SECRET = "aaa-secret-event"
PUBLIC = "zzz-public-event"


def test_apply_seals_the_secret_where_normalize_moves_it(
    tmp_path: Path, clean_seg_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    (root / "sources.yaml").write_text(
        "kind: Source\nname: shop\nspec:\n  catalog: javascript\n  schema_settings:\n"
        f'    blocked_events: ["{PUBLIC}", "${{env:SECRET_EVENT}}"]\n'
    )
    monkeypatch.setenv("SECRET_EVENT", SECRET)
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert SECRET not in applied.output
    got = embedded_call(root, "GET", "sources/shop")
    events = got.json()["schema_settings"]["blocked_events"]
    assert SECRET not in got.text, events  # sealed, not stored and returned in clear
    assert PUBLIC in events, events  # the public value stays readable
    again = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert SECRET not in again.output


def test_a_declared_secret_index_follows_the_value_on_the_api(api: Api) -> None:
    body = {"name": f"workspaces/{api.workspace}/sources/shop", "catalog": "javascript",
            "schema_settings": {"blocked_events": [PUBLIC, SECRET]}}  # fmt: skip
    made = api.http.post(api.url("/sources"), json={
        "source": body, "secret_paths": ["source.schema_settings.blocked_events[1]"]})  # fmt: skip
    assert made.status_code == 200, made.text
    assert SECRET not in made.text
    assert PUBLIC in made.json()["schema_settings"]["blocked_events"]
    edited = api.http.patch(api.url("/sources/shop"), json={
        "source": {"schema_settings": {"blocked_events": ["zz-other", "a-second-secret"]}},
        "update_mask": {"paths": ["source.schema_settings"]},
        "secret_paths": ["source.schema_settings.blocked_events[1]"]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert "a-second-secret" not in edited.text
    assert "zz-other" in edited.json()["schema_settings"]["blocked_events"]
