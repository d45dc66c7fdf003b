"""Golden plan views of function code changes (text, markdown, JSON): the code as a unified diff
of its file, the version it makes (``v4 → v5`` from the live ``latest_version``), and who
receives it — the declared instances when deploy is latest, "instances stay on vN" when
pinned. The plan is computed by the real engine from declared and live resources; instances
are found by the Function kind's ``instances`` hook (Sources whose catalog is
``function:<name>``, Destinations whose ``function`` or ``insert_function`` names it).

To accept a deliberate change of output:

    SEG_UPDATE_GOLDEN=1 python -m pytest -q tests/integration/test_function_plan_golden.py
"""

from __future__ import annotations

import difflib
import io
import json
import os
from typing import Any

from rich.console import Console

from seg.engine.diff import compute_plan
from seg.engine.plan import Plan
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.plan_json import plan_from_json, plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text
from tests.repo_files import REPO

# beside this test, not under tests/golden/ (which holds one directory per example)
GOLDEN = REPO / "tests" / "integration" / "golden" / "function-versions"
UPDATE = os.environ.get("SEG_UPDATE_GOLDEN") == "1"

FUNCTION, SOURCE, DESTINATION = KINDS["Function"], KINDS["Source"], KINDS["Destination"]
SERVER_DEFAULTS = {"display_name": "", "description": "", "settings": [], "deploy": "latest"}

ENRICH_V4 = """\
async function onTrack(event, settings) {
  event.properties.team = settings.team
  return event
}

async function onIdentify(event) {
  return event
}
"""
# the new line holds a run of backticks: the markdown fence must outlast it
ENRICH = ENRICH_V4.replace("settings.team\n", "settings.team\n  event.properties.md = '```'\n")
HOOK_V5 = "async function onRequest(request, settings) {\n  Segment.track(request.json())\n}\n"
HOOK = HOOK_V5.replace("request.json()", "{event: 'Hook', ...request.json()}")
NOTIFY = "async function onTrack(event) {\n  return event\n}\n"


def _both(kind: Any, address: str, fields: dict[str, Any], latest: int = 0,
          live: dict[str, Any] | None = None) -> tuple[DesiredResource, CurrentResource]:  # fmt: skip
    """A declared resource and its live counterpart (``live``: the fields that differ)."""
    defaults = SERVER_DEFAULTS if kind is FUNCTION else {}
    current = CurrentResource(kind, address, {**defaults, **fields, **(live or {})},
                              etag="e-" + address.replace("/", "-"), latest_version=latest)
    return DesiredResource(kind, address, fields), current


def plan() -> Plan:
    pairs = [
        # insert function, deploy latest, a code change: v4 → v5 reaches two destinations
        _both(FUNCTION, "enrich", {"type": "insert", "code": ENRICH}, 4,
              live={"code": ENRICH_V4}),
        # source function pinned to v3: its code change makes v6, instances stay on v3
        _both(FUNCTION, "hook-in", {"type": "source", "code": HOOK, "deploy": 3}, 5,
              live={"code": HOOK_V5}),
        _both(SOURCE, "web", {"catalog": "javascript"}),
        _both(SOURCE, "hooks", {"catalog": "function:hook-in"}),
        _both(DESTINATION, "web/amplitude", {"catalog": "amplitude", "insert_function": "enrich"}),
        _both(DESTINATION, "web/braze", {"catalog": "braze", "insert_function": "enrich"}),
        _both(DESTINATION, "web/notify", {"function": "notify"}),
    ]
    desired = [d for d, _ in pairs]
    current = [c for _, c in pairs]
    # a new destination function: v1, deployed to the destination that names it
    desired.append(DesiredResource(FUNCTION, "notify", {"type": "destination", "code": NOTIFY}))
    return compute_plan("acme", desired, current, "digest-1")


def views(value: Plan) -> dict[str, str]:
    buffer = io.StringIO()
    render_plan_text(value, Console(file=buffer, force_terminal=False, color_system=None,
                                    width=100))  # fmt: skip
    return {
        "plan.txt": buffer.getvalue(),
        "plan.md": render_plan_markdown(value),
        "plan.json": json.dumps(plan_to_json(value), indent=2, ensure_ascii=False) + "\n",
    }


def test_function_code_changes_in_every_plan_view() -> None:
    outputs = views(plan())
    problems = []
    for name, text in outputs.items():
        path = GOLDEN / name
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            continue
        want = path.read_text()
        if want != text:
            diff = difflib.unified_diff(want.splitlines(), text.splitlines(), name, "now",
                                        lineterm="")  # fmt: skip
            problems.append("\n".join(diff))
    assert not problems, "\n".join(problems) + "\n(SEG_UPDATE_GOLDEN=1 rewrites the files)"


def test_the_plan_holds_one_version_note_per_function_change() -> None:
    notes = {c.address: c.version for c in plan().changes if c.version is not None}
    assert set(notes) == {"enrich", "hook-in", "notify"}
    enrich, hook, notify = notes["enrich"], notes["hook-in"], notes["notify"]
    assert enrich is not None and (enrich.before, enrich.after, enrich.pinned) == (4, 5, None)
    assert enrich.instances == (("Destination", "web/amplitude"), ("Destination", "web/braze"))
    assert hook is not None and (hook.before, hook.after, hook.pinned) == (5, 6, 3)
    assert hook.instances == (("Source", "hooks"),)
    assert notify is not None and (notify.before, notify.after) == (0, 1)
    assert notify.instances == (("Destination", "web/notify"),)
    assert enrich.file == "functions/enrich.js"
    assert "\n````diff\n" in views(plan())["plan.md"]  # longer than the code's ``` run


def test_a_saved_plan_shows_the_same_as_the_plan() -> None:
    """``seg show`` renders a plan read back from its JSON: the same text and markdown."""
    value = plan()
    again = plan_from_json(json.loads(views(value)["plan.json"]))
    assert views(again) == views(value)


def test_a_change_that_leaves_the_code_alone_makes_no_version() -> None:
    desired, current = _both(FUNCTION, "enrich", {"type": "insert", "code": ENRICH,
                                                  "display_name": "Enrich"}, 4,
                             live={"display_name": "Old"})  # fmt: skip
    (change,) = compute_plan("acme", [desired], [current]).changes
    assert [fc.path for fc in change.field_changes] == [("display_name",)]
    assert change.version is None
    assert "v4" not in views(compute_plan("acme", [desired], [current]))["plan.txt"]


def test_without_live_versions_the_plan_names_no_number() -> None:
    """``seg diff`` between revisions compares two trees: no version is known."""
    desired, current = _both(FUNCTION, "enrich", {"type": "insert", "code": ENRICH}, 0,
                             live={"code": ENRICH_V4})  # fmt: skip
    value = compute_plan("acme", [desired], [current])
    (change,) = value.changes
    assert change.version is not None and (change.version.before, change.version.after) == (0, 0)
    text = views(value)["plan.txt"]
    assert "~ code: a new version" in text and "~ deploys the new version" in text
    assert "v0" not in text and "v1" not in text
