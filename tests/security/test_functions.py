"""Hostile function workspaces and API requests (issue 14, functions).

A pull request controls the YAML and the .js files, and the plan is posted as a comment: a
code_file may not read outside the workspace (a `..`, an absolute path, a symlink), code is
bounded in size, code built to exhaust a parser (deep nesting, long token runs) is refused
quickly with one diagnostic — never a traceback, a hang or a 500 —, settings names may not
collide, and an encrypted setting's value shows in no plan, error message or API answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from seg.kinds.function import MAX_CODE_CHARS
from seg.policy.javascript import read_javascript
from tests.conftest import Api, WriteWorkspace, run_cli

MARKER = "OUTSIDE-FN-MARKER-91d2"
SECRET = "enc-value-4e7a-do-not-show"
DEST = "async function onTrack(event) {\n  return event\n}\n"

FUNCTION = """\
kind: Function
name: f
spec:
  type: destination
  code_file: {value}
"""


def validate(root: Path) -> tuple[int, str]:
    result = run_cli("validate", "-w", str(root))
    return result.exit_code, result.output.replace(f"{root}/", "")


@pytest.mark.parametrize("value", ["../outside.js", "/etc/hostname.js", "link.js", "dir/x.js"])
def test_code_file_does_not_leave_the_workspace(write_workspace: WriteWorkspace, tmp_path: Path,
                                                value: str) -> None:  # fmt: skip
    outside = tmp_path / "outside.js"
    outside.write_text(f"// {MARKER}\n{DEST}")
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "x.js").write_text(f"// {MARKER}\n{DEST}")
    root = write_workspace({"functions.yaml": FUNCTION.format(value=value)})
    (root / "link.js").symlink_to(outside)
    (root / "dir").symlink_to(tmp_path / "outdir")
    status, output = validate(root)
    assert status == 1
    problems = [line for line in output.splitlines() if ": error: " in line]
    assert len(problems) == 1 and problems[0].startswith("functions.yaml:5:14: "), output
    assert MARKER not in output
    plan = run_cli("plan", "-w", str(root))
    assert plan.exit_code != 0 and MARKER not in plan.output


def test_huge_code_is_one_error_at_the_code_file(write_workspace: WriteWorkspace) -> None:
    code = DEST + "// padding\n" * (MAX_CODE_CHARS // 11 + 10)
    root = write_workspace({"functions.yaml": FUNCTION.format(value="big.js"), "big.js": code})
    started = time.monotonic()
    status, output = validate(root)
    assert time.monotonic() - started < 20
    assert status == 1
    assert f"functions.yaml:5:14: error: the code has {len(code)} characters; the limit is " \
           f"{MAX_CODE_CHARS} (256 KiB) [function/size]" in output  # fmt: skip


HOSTILE = {
    "deep parentheses": "(" * 20000 + "1" + ")" * 20000,
    "deep arrays": "var a = " + "[" * 20000 + "]" * 20000,
    "deep blocks": "{" * 20000 + "}" * 20000,
    "deep functions": "function f(){" * 3000 + "}" * 3000,
    "long operator chain": "var a = " + "1 + " * 60000 + "1",
    "unterminated template": "`${" * 30000,
    "unterminated regex runs": "/[" * 60000,
    "optional chains": "a" + "?.b" * 60000,
    "nullish chain": "a" + " ?? b" * 40000,
    "regex or division": "x = " + "/a/ " * 60000,
    "nested templates": "`" + "${`" * 5000,
    "arrow chain": "x => " * 30000 + "1",
    "ternary chain": "a ? b : " * 30000 + "c",
}


@pytest.mark.parametrize("code", HOSTILE.values(), ids=HOSTILE.keys())
def test_code_built_to_exhaust_the_parser_is_refused_quickly(code: str) -> None:
    started = time.monotonic()
    facts = read_javascript(code)
    assert time.monotonic() - started < 10  # each takes well under a second here
    assert facts.error is not None or not facts.handlers


def test_hostile_code_through_validate_and_the_api(write_workspace: WriteWorkspace,
                                                   api: Api) -> None:  # fmt: skip
    code = "(" * 20000 + "1" + ")" * 20000
    root = write_workspace({"functions.yaml": FUNCTION.format(value="x.js"), "x.js": code})
    status, output = validate(root)
    assert status == 1 and "Traceback" not in output
    assert "x.js:1:1: error: the code is not valid JavaScript: line 1, column 1: the code is " \
           "nested too deeply to read [function/javascript]" in output  # fmt: skip
    body = {"name": f"workspaces/{api.workspace}/functions/f", "type": "insert", "code": code}
    answer = api.http.post(api.url("/functions"), json={"function": body})
    assert answer.status_code == 400 and answer.json()["code"] == 3
    too_big = {**body, "code": DEST + " " * MAX_CODE_CHARS}
    answer = api.http.post(api.url("/functions"), json={"function": too_big})
    assert answer.status_code == 400 and answer.json()["code"] == 3


def test_settings_names_do_not_collide(api: Api) -> None:
    settings = [{"name": "token", "encrypted": True}, {"name": "token", "type": "number"}]
    body = {"name": f"workspaces/{api.workspace}/functions/f", "type": "destination",
            "code": DEST, "settings": settings}  # fmt: skip
    answer = api.http.post(api.url("/functions"), json={"function": body})
    assert answer.status_code == 400
    assert answer.json()["error"] == "setting 'token' is declared 2 times; names are unique"
    body["settings"] = [{"name": "a-b"}]  # not an identifier the code can read
    assert api.http.post(api.url("/functions"), json={"function": body}).status_code == 400


ENCRYPTED_WS = """\
kind: Function
name: f
spec:
  type: source
  code: "async function onRequest(request, settings) {{}}"
  settings:
    - name: token
      encrypted: true
      type: {type}
---
kind: Source
name: hook
spec:
  catalog: function:f
  settings:
    token: {value}
"""


def test_encrypted_values_show_in_no_plan_or_error(write_workspace: WriteWorkspace,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   clean_seg_env: None) -> None:  # fmt: skip
    # Written in clear in the YAML: the schema marks it secret, so the plan masks it.
    root = write_workspace({"ws.yaml": ENCRYPTED_WS.format(type="string", value=SECRET)})
    plan = run_cli("plan", "-w", str(root))
    assert plan.exit_code == 0 and SECRET not in plan.output, plan.output
    assert "settings.token: (sensitive)" in plan.output
    as_json = run_cli("plan", "-w", str(root), "-o", "json")
    assert SECRET not in as_json.output
    applied = run_cli("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0 and SECRET not in applied.output
    assert not any(SECRET.encode() in p.read_bytes() for p in (root / ".seg").rglob("*")
                   if p.is_file())  # fmt: skip
    # A value of the wrong type: the error names the setting, never the value.
    monkeypatch.setenv("TOKEN", SECRET)
    root2 = write_workspace({"ws.yaml": ENCRYPTED_WS.format(type="number", value="${env:TOKEN}")},
                            root=root.parent / "ws2")  # fmt: skip
    status, output = validate(root2)
    assert status == 1 and "token" in output and SECRET not in output, output
    root3 = write_workspace({"ws.yaml": ENCRYPTED_WS.format(type="number", value=SECRET)},
                            root=root.parent / "ws3")  # fmt: skip
    status, output = validate(root3)
    assert status == 1 and "token" in output and SECRET not in output, output


def test_the_api_never_answers_an_encrypted_value(api: Api) -> None:
    fn = {"name": f"workspaces/{api.workspace}/functions/f", "type": "source",
          "code": "async function onRequest(r, s) {}",
          "settings": [{"name": "token", "encrypted": True, "type": "number"}]}  # fmt: skip
    assert api.http.post(api.url("/functions"), json={"function": fn}).status_code == 200
    # The control plane seals an encrypted value before the rules see it, so it cannot judge
    # its type (seg validate does, in clear); whatever it answers, the value is not in it.
    wrong = api.create_source("typed", catalog="function:f", settings={"token": SECRET})
    assert wrong.status_code in (200, 400) and SECRET not in wrong.text
    fn["settings"] = [{"name": "token", "encrypted": True}]
    patch = {"function": fn, "update_mask": {"paths": ["function.settings"]}}
    assert api.http.patch(api.url("/functions/f"), json=patch).status_code == 200
    made = api.create_source("hook", catalog="function:f", settings={"token": SECRET})
    assert made.status_code == 200 and SECRET not in made.text
    for path in ("/sources/hook", "/sources", "/audit-log"):
        answer: httpx.Response = api.http.get(api.url(path))
        assert SECRET not in answer.text, path
    assert SECRET not in json.dumps(api.http.get(api.url("/sources/hook")).json())
