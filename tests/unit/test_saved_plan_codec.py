"""The typed saved-plan codec: ``SavedPlan.encode`` writes the same document as ever,
``decode`` reads old and new files, and the apply's checks compare typed fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seg.commands.planfile import (
    SAVED_PLAN_SCHEMA,
    check_files,
    check_fresh,
    check_options,
    check_target,
    read_planfile,
    refuse_incomplete,
    write_planfile,
)
from seg.commands.saved_plan import SavedChange, SavedField, SavedOptions, SavedPlan
from seg.engine import compute_plan
from seg.engine.plan import Plan
from seg.errors import StalePlan
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.plan_json import plan_to_json

SRC = KINDS["Source"]
FILES = {"sources.yaml": "ab" * 32, "seg.yaml": "cd" * 32}


def plan(enabled: Any = False, etag: str = "e1", settings: Any = None) -> Plan:
    desired = [DesiredResource(SRC, "web", {"catalog": "javascript", "enabled": enabled,
                                            "settings": settings or {"n": 1}}),
               DesiredResource(SRC, "app", {"catalog": "ios"})]  # fmt: skip
    current = [CurrentResource(SRC, "web", {"catalog": "javascript", "enabled": True,
                                            "settings": {"n": 2}}, etag)]  # fmt: skip
    return compute_plan("acme", desired, current, "digest-1")


def saved(fresh: Plan | None = None, **options: Any) -> SavedPlan:
    return SavedPlan.of(fresh or plan(), "http://cp", "prod", SavedOptions(**options), FILES)


def test_encode_writes_the_document_seg_always_wrote() -> None:
    made = plan()
    data = saved(made, targets=("web",), scope=None, max_deletes=3,
                 missing_secrets="fail").encode()  # fmt: skip
    assert list(data) == ["type", "format_version", "api_url", "env", "options", "files", "plan"]
    assert data["type"] == "seg-saved-plan" and data["format_version"] == Plan.FORMAT_VERSION
    assert data["options"] == {"targets": ["web"], "scope": None, "max_deletes": 3,
                               "missing_secrets": "fail"}  # fmt: skip
    assert list(data["files"]) == ["seg.yaml", "sources.yaml"]  # sorted, as before
    assert data["plan"] == plan_to_json(made)


def test_a_written_plan_reads_back_equal(tmp_path: Path) -> None:
    original = saved(targets=("web", "app"), scope="sub", max_deletes=0, missing_secrets="skip")
    write_planfile(tmp_path / "plan.json", original)
    again = read_planfile(tmp_path / "plan.json")
    assert again == original
    assert again.encode() == json.loads((tmp_path / "plan.json").read_text())


def test_an_older_plan_without_the_newer_members_still_reads(tmp_path: Path) -> None:
    data = saved().encode()
    for member in ("api_url", "env", "options", "files", "format_version"):
        del data[member]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = read_planfile(tmp_path / "old.json")
    assert (old.api_url, old.env, old.files, old.options) == (None, None, None, SavedOptions())
    assert old.changes == saved().changes and old.workspace == "acme"
    with pytest.raises(StalePlan, match="does not record the files"):
        check_files(old, FILES)
    with pytest.raises(StalePlan, match="computed against None"):
        check_target(old, "http://cp")
    assert "required" in SAVED_PLAN_SCHEMA and "options" not in SAVED_PLAN_SCHEMA["required"]


def test_changes_are_compared_as_typed_values() -> None:
    base = SavedChange("Source", "web", "update", ("source.settings.n",),
                       (SavedField("settings.n", 1),), "e1")  # fmt: skip
    same = SavedChange("Source", "web", "update", ("source.settings.n",),
                       (SavedField("settings.n", 1.0),), "e1")  # fmt: skip
    assert base.same_as(same)  # 1 and 1.0 are one JSON number
    for other in (
        SavedChange("Source", "web", "update", ("source.settings.n",), (SavedField("settings.n", True),), "e1"),
        SavedChange("Source", "web", "update", ("source.settings.n",), (SavedField("settings.n", 1),), "e2"),
        SavedChange("Source", "web", "replace", ("source.settings.n",), (SavedField("settings.n", 1),), "e1"),
        SavedChange("Source", "web", "update", (), (SavedField("settings.n", 1),), "e1"),
        SavedChange("Source", "web", "update", ("source.settings.n",), (), "e1"),
        SavedChange("Source", "web", "update", ("source.settings.n",),
                    (SavedField("settings.n", "(sensitive)", True),), "e1"),
    ):  # fmt: skip
        assert not base.same_as(other), other


def test_the_saved_changes_are_what_the_json_plan_shows() -> None:
    made = plan()
    decoded = tuple(SavedChange.decode(c) for c in plan_to_json(made)["changes"])
    assert decoded == tuple(SavedChange.of(c) for c in made.changes)


def test_check_fresh_names_what_moved() -> None:
    check_fresh(saved(), plan())  # the same plan again: fresh
    check_fresh(saved(plan(settings={"n": 1.0})), plan())  # the same JSON value
    with pytest.raises(StalePlan, match="live state moved for Source web"):
        check_fresh(saved(), plan(etag="e9"))
    with pytest.raises(StalePlan, match="live state moved for Source web"):
        check_fresh(saved(), plan(enabled=0))  # 0 is not false
    with pytest.raises(StalePlan, match="workspace files or their secret values changed"):
        check_fresh(saved(), compute_plan("acme", [], [], "digest-2"))


def test_options_compare_as_given_not_as_spelled() -> None:
    kept = saved(targets=("web", "app", "web"), scope="", max_deletes=None)
    check_options(kept, SavedOptions(("app", "web"), None, None), "prod")
    with pytest.raises(StalePlan, match="--env prod, not"):
        check_options(kept, SavedOptions(("app", "web")), "")
    with pytest.raises(StalePlan, match="--target app web, not web"):
        check_options(kept, SavedOptions(("web",)), "prod")
    with pytest.raises(StalePlan, match="--max-deletes"):
        check_options(kept, SavedOptions(("app", "web"), None, 0), "prod")


def test_a_plan_with_missing_variables_is_refused() -> None:
    skipped = saved()
    refuse_incomplete(skipped)
    incomplete = SavedPlan.decode({**skipped.encode(), "plan": {
        **skipped.document, "missing_variables": ["AMP_KEY"]}})  # fmt: skip
    with pytest.raises(StalePlan, match="not set: AMP_KEY"):
        refuse_incomplete(incomplete)
