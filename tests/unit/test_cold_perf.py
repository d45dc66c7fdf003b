"""Cold validate and the no-op diff made faster (issue 18): the same results as before.

The rules shared with a forked child (``workspace.fanout``) give exactly what the serial
loop gives, diagnostics in the same order; the digest built without a deep copy
redacts the same values and leaves the resource alone; the diff's one-comparison shortcut
(``engine.diff._unchanged``) never hides a change the walk would find."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from seg.engine import compute_plan
from seg.engine.diff import diff_fields
from seg.engine.ownership import Ownership
from seg.kinds import KINDS
from seg.model.paths import MISSING, get_path, set_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import DIGEST_PREFIX, REDACTED
from seg.workspace.loader import _digest, _without_secrets

ROOT = Path(__file__).resolve().parents[2]
ENVIRON = {"BENCH_API_KEY": "bench-secret",
           "BENCH_SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/bench"}  # fmt: skip


def _python(script: str, *args: str) -> str:
    """Run ``script`` in a fresh interpreter (one thread: the fork is allowed there)."""
    env = {"PYTHONPATH": str(ROOT / "cli"), "PATH": "/usr/bin:/bin", **ENVIRON}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_fan_out_shares_the_work_with_a_child_and_keeps_the_order() -> None:
    """Both processes take chunks (each item takes a millisecond, so the child, once
    forked, gets some); the results come back in the input's order."""
    out = _python("""
        import json, os, time
        from seg.workspace.fanout import can_fork, fan_out
        parent = os.getpid()
        def square(i):
            time.sleep(0.001)
            return i * i, os.getpid() == parent
        got = fan_out(square, list(range(1001)), min_items=1)
        print(json.dumps({"can_fork": can_fork(), "got": got}))
    """)
    found = json.loads(out)
    assert found["can_fork"] is True
    assert [square for square, _ in found["got"]] == [i * i for i in range(1001)]
    here = [in_parent for _, in_parent in found["got"]]
    assert 100 < here.count(False) < 900 and 100 < here.count(True) < 900  # shared


def test_fan_out_stays_serial_for_short_lists_and_with_threads_running() -> None:
    out = _python("""
        import json, os, threading
        from seg.workspace.fanout import fan_out
        parent = os.getpid()
        short = fan_out(lambda i: os.getpid() == parent, list(range(10)), min_items=100)
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait)
        worker.start()
        threaded = fan_out(lambda i: os.getpid() == parent, list(range(10)), min_items=1)
        stop.set()
        worker.join()
        print(json.dumps([short, threaded]))
    """)
    short, threaded = json.loads(out)
    assert all(short) and all(threaded)


def test_fan_out_ships_what_the_child_sends_and_lands_it_on_arrival() -> None:
    """The child's results go through ``ship`` there and ``land`` here, the parent's through
    neither; results larger than the pipe arrive whole."""
    out = _python("""
        import json, os, time
        from seg.workspace.fanout import fan_out
        parent = os.getpid()
        def made(i):
            time.sleep(0.001)
            return i, os.getpid() == parent, "x" * (300_000 if i % 50 == 0 else 1)
        got = fan_out(made, list(range(600)), min_items=1,
                      ship=lambda done: (done[0], "shipped", len(done[2])),
                      land=lambda sent: (sent[0], sent[1] + " landed", sent[2]))
        print(json.dumps([[i, how, n if isinstance(n, int) else len(n)] for i, how, n in got]))
    """)
    got = json.loads(out)
    assert [i for i, _, _ in got] == list(range(600))
    assert {how for _, how, _ in got} == {True, "shipped landed"}
    assert all(n == (300_000 if i % 50 == 0 else 1) for i, _, n in got)


def test_fan_out_does_what_a_dead_child_left_undone() -> None:
    """A child killed after a few items: what it sent is kept, the rest (its claimed chunk
    included) is computed by the parent; nothing is lost or doubled."""
    out = _python("""
        import json, os, signal, time
        from seg.workspace.fanout import fan_out
        parent = os.getpid()
        count = [0]
        def made(i):
            time.sleep(0.001)
            if os.getpid() != parent:
                count[0] += 1
                if count[0] == 40:
                    os.kill(os.getpid(), signal.SIGKILL)
            return i, os.getpid() == parent
        got = fan_out(made, list(range(1024)), min_items=1)
        print(json.dumps(got))
    """)
    got = json.loads(out)
    assert [i for i, _ in got] == list(range(1024))
    assert 0 < [here for _, here in got].count(False) < 40  # the child's, sent before it died


def test_fan_out_leaves_no_child_when_the_parent_fails() -> None:
    out = _python("""
        import json, os, time
        from seg.workspace.fanout import fan_out
        parent = os.getpid()
        def made(i):
            time.sleep(0.001)
            if os.getpid() == parent and i > 500:
                raise ValueError("bad item")
            return i
        try:
            fan_out(made, list(range(1000)), min_items=1)
        except ValueError as exc:
            raised = str(exc)
        try:
            os.waitpid(-1, os.WNOHANG)
            children = "some"
        except ChildProcessError:
            children = "none"
        print(json.dumps([raised, children]))
    """)
    assert json.loads(out) == ["bad item", "none"]


def test_in_background_runs_in_a_child_that_the_caller_waits_for(tmp_path: Path) -> None:
    """The job runs in another process while the caller goes on; after ``wait`` what it
    wrote is there; its other effects stay in the child. With another thread running it
    runs at once, here."""
    out = _python("""
        import json, os, sys, threading, time
        from pathlib import Path
        from seg.workspace.fanout import in_background
        target, seen = Path(sys.argv[1]), []
        def job():
            time.sleep(0.3)
            seen.append(os.getpid())
            (target / "forked").write_text(str(os.getpid()))
        started = time.monotonic()
        running = in_background(job)
        returned = time.monotonic() - started
        running.wait()
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait)
        worker.start()
        in_background(lambda: (target / "inline").write_text(str(os.getpid()))).wait()
        stop.set()
        worker.join()
        print(json.dumps({"parent": os.getpid(), "returned": returned, "seen": seen,
                          "forked": int((target / "forked").read_text()),
                          "inline": int((target / "inline").read_text())}))
    """, str(tmp_path))
    found = json.loads(out)
    assert found["returned"] < 0.25  # the caller went on while the job slept
    assert found["forked"] != found["parent"] and found["seen"] == []
    assert found["inline"] == found["parent"]



def test_in_background_gives_what_the_job_returned() -> None:
    """``wait`` gives what the job returned, sent back from the child (None when it raised,
    its process died or what it returned cannot be pickled); the same when it ran inline."""
    out = _python("""
        import json, os, signal, threading
        from seg.workspace.fanout import in_background
        def boom():
            raise RuntimeError("no")
        jobs = {"value": lambda: {"digest": "x" * 200_000, "pid": os.getpid()},
                "false": lambda: False, "raises": boom, "unpicklable": lambda: lambda: 1,
                "dies": lambda: os.kill(os.getpid(), signal.SIGKILL)}
        started = {name: in_background(job) for name, job in jobs.items()}  # all at once
        forked = {name: running.wait() for name, running in started.items()}
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait)
        worker.start()
        inline = in_background(lambda: {"pid": os.getpid()}).wait()
        stop.set()
        worker.join()
        print(json.dumps([os.getpid(), forked, inline]))
    """)
    parent, forked, inline = json.loads(out)
    value = forked.pop("value")
    assert value["digest"] == "x" * 200_000 and value["pid"] != parent  # larger than a pipe
    assert forked == {"false": False, "raises": None, "unpicklable": None, "dies": None}
    assert inline == {"pid": parent}

_LOAD = """
    import shutil
    import sys
    from pathlib import Path
    import seg.workspace.cache as cache
    import seg.workspace.fanout as fanout
    from seg.errors import WorkspaceInvalid
    from seg.workspace.loader import load_workspace
    fanout.MIN_ITEMS = cache.MIN_FILES = int(sys.argv[2])  # the rules, the files to load
    mode = sys.argv[3]  # cold: the validate cache dropped first; warm: kept; none: not used
    if mode == "cold":
        shutil.rmtree(Path(sys.argv[1]) / ".seg" / "cache", ignore_errors=True)
    try:
        ws = load_workspace(Path(sys.argv[1]), cache=mode != "none")
        print(ws.digest)
        for r in ws.resources:
            print(r.kind.name, r.address, repr(r.fields), sorted(map(repr, r.secret_paths)))
        print(*ws.warnings, sep="\\n")
    except WorkspaceInvalid as exc:
        print("invalid")
        print(*exc.diagnostics, sep="\\n")
"""


def _generate(root: Path, resources: int) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), str(root),
                    "--resources", str(resources)], check=True, capture_output=True,
                   env={"PYTHONPATH": str(ROOT / "cli"), "PATH": "/usr/bin:/bin"})  # fmt: skip


def _loads(root: Path) -> list[str]:
    """The load of ``root``: without the validate cache, with it cold then warm, each with
    the rules forked and serial; the warm ones reuse what a forked cold load kept."""
    return [_python(_LOAD, str(root), forked, mode)
            for mode in ("none", "cold", "warm") for forked in ("1", "1000000000")]  # fmt: skip


def test_validate_with_the_rules_forked_equals_the_serial_one(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    _generate(root, 800)
    valid = _loads(root)
    assert len(set(valid)) == 1, "forked, serial, cached and not cached differ"
    assert valid[0].count("\n") > 800  # every resource listed
    # broken: references to nothing, a limit over the top (said once), a bad value
    functions = root / "functions" / "more.yaml"
    functions.write_text("".join(
        f"---\nkind: Function\nname: extra-{i:02d}\nspec:\n  type: insert\n"
        f"  display_name: Extra {i}\n  code_file: enrich-00.js\n" for i in range(6)))
    for path in sorted((root / "sources").glob("*.yaml"))[:30]:
        text = path.read_text()
        path.write_text(text.replace("destination: ", "destination: gone-", 1))
    invalid = _loads(root)
    assert len(set(invalid)) == 1, "forked, serial, cached and not cached differ"
    lines = invalid[0].splitlines()
    assert lines[0] == "invalid"
    assert sum("the limit is 25" in line for line in lines) == 1
    assert sum("which is not declared" in line for line in lines) >= 10


_REUSED = """
    import sys
    from pathlib import Path
    import seg.workspace.cache as cache
    import seg.workspace.fanout as fanout
    import seg.workspace.rules_cache as rules_cache
    from seg.workspace.loader import load_workspace
    fanout.MIN_ITEMS = cache.MIN_FILES = 1
    made = []
    real = rules_cache.RulesCache.__init__
    def kept(self, *args):
        real(self, *args)
        made.append(self)
    rules_cache.RulesCache.__init__ = kept
    load_workspace(Path(sys.argv[1]), cache=True)
    print(made[-1].reused)
"""


def test_rules_judged_in_the_forked_child_are_kept_for_the_next_load(tmp_path: Path) -> None:
    """A cold load with the rules forked keeps every resource's rules (with what they
    read), so the next load runs none of them again."""
    root = tmp_path / "ws"
    _generate(root, 300)
    assert _python(_REUSED, str(root)).strip() == "0"  # cold: all judged, some in the child
    # warm: every one reused, the child's share too (it would be judged again, were its
    # results not kept)
    assert int(_python(_REUSED, str(root))) >= 300


def _reference_redaction(res: DesiredResource) -> dict[str, Any]:
    """The digest's redaction as it was: a deep copy, then each secret replaced."""
    fields = copy.deepcopy(dict(res.fields))
    for path in res.secret_paths:
        if get_path(fields, path) is not MISSING:
            set_path(fields, path, REDACTED)
    return fields


def test_the_digest_redacts_secrets_in_maps_and_lists_without_changing_the_resource() -> None:
    fields = {"settings": {"api_key": "k1", "nested": {"token": "t", "keep": 1},
                           "pairs": [{"secret": "s0"}, {"secret": "s1", "name": "n"}],
                           "whole": {"a": "x"}},
              "catalog": "amplitude"}  # fmt: skip
    secrets = frozenset({("settings", "api_key"), ("settings", "nested", "token"),
                         ("settings", "pairs", 1, "secret"), ("settings", "whole"),
                         ("settings", "whole", "a"), ("settings", "absent")})  # fmt: skip
    before = copy.deepcopy(fields)
    res = DesiredResource(KINDS["Destination"], "src/d", fields, secret_paths=secrets)
    redacted = _without_secrets(res)
    assert redacted == _reference_redaction(res)
    assert redacted["settings"]["pairs"][0] == {"secret": "s0"}
    assert redacted["settings"]["pairs"][1] == {"secret": REDACTED, "name": "n"}
    assert fields == before  # the resource is untouched
    plain = DesiredResource(KINDS["Destination"], "src/e", {"catalog": "webhook"})
    assert _digest([res, plain]) == _digest([res, plain])
    assert _digest([res]) != _digest([plain])


def _live(res: DesiredResource, fields: dict[str, Any]) -> CurrentResource:
    return CurrentResource(res.kind, res.address, fields, "e1")


def test_a_field_that_differs_only_as_json_is_still_a_change() -> None:
    dest = KINDS["Destination"]
    res = DesiredResource(dest, "src/d", {"enabled": True, "settings": {"batch_size": 1}})
    assert diff_fields(res, _live(res, {"enabled": True, "settings": {"batch_size": 1}})) == []
    assert diff_fields(res, _live(res, {"enabled": 1, "settings": {"batch_size": 1}}))
    changes = diff_fields(res, _live(res, {"enabled": True, "settings": {"batch_size": True}}))
    assert [fc.path for fc in changes] == [("settings", "batch_size")]
    # a live key the YAML does not declare is left alone (the shortcut falls back to the walk)
    extra = {"enabled": True, "settings": {"batch_size": 1, "region": "EU"}}
    assert diff_fields(res, _live(res, extra)) == []


def test_a_live_digest_equals_the_value_only_when_the_server_matched_it() -> None:
    dest = KINDS["Destination"]
    res = DesiredResource(dest, "src/d", {"settings": {"api_key": "k"}},
                          secret_paths=frozenset({("settings", "api_key")}))  # fmt: skip
    live = _live(res, {"settings": {"api_key": DIGEST_PREFIX + "ab"}})
    assert diff_fields(res, live, lambda path: path == ("settings", "api_key")) == []
    (change,) = diff_fields(res, live)
    assert change.path == ("settings", "api_key") and change.sensitive


def test_a_no_op_plan_of_the_generated_workspace_has_no_change(tmp_path: Path) -> None:
    from seg.workspace.loader import load_workspace

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from plan_engine import live_copy
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    _generate(tmp_path / "ws", 600)
    ws = load_workspace(tmp_path / "ws", environ=ENVIRON)
    current, matched = [], set()
    for res in ws.resources:
        live, keys = live_copy(res, ws.config.manager)
        current.append(live)
        matched.update(keys)
    ownership = Ownership(ws.config.manager)
    plan = compute_plan("bench", ws.resources, current, ws.digest, secrets_matched=matched,
                        ownership=ownership)  # fmt: skip
    assert plan.changes == ()
    # one secret the server did not confirm: exactly that resource changes
    secret = next(r for r in ws.resources if r.secret_paths)
    path = sorted(secret.secret_paths, key=repr)[0]
    matched.discard((secret.kind.name, secret.address, path))
    plan = compute_plan("bench", ws.resources, current, ws.digest, secrets_matched=matched,
                        ownership=ownership)  # fmt: skip
    assert [(c.address, [fc.path for fc in c.field_changes]) for c in plan.changes] == [
        (secret.address, [path])
    ]


_RESTORED = """
    import shutil
    import sys
    from pathlib import Path
    import time
    import seg.workspace.cache as cache
    import seg.workspace.loader as loader
    from seg.workspace.loader import load_workspace
    cache.MIN_FILES = int(sys.argv[2])
    shutil.rmtree(Path(sys.argv[1]) / ".seg" / "cache", ignore_errors=True)
    restored = []
    real = cache.FileCache._restore
    def counted(self, entry):
        restored.append(entry)
        return real(self, entry)
    cache.FileCache._restore = counted
    real_runner = loader._runner
    def slowed(ctx, rel):  # 5 ms a file: the child, however late it starts, gets some
        run = real_runner(ctx, rel)
        def slow(tree, env):
            time.sleep(0.005)
            return run(tree, env)
        return slow
    loader._runner = slowed
    load_workspace(Path(sys.argv[1]), cache=True)
    print(len(restored), sum(1 for _ in Path(sys.argv[1]).rglob("*.yaml")))
"""


def test_a_cold_load_shares_the_files_with_a_forked_child(tmp_path: Path) -> None:
    """Without an entry to reuse, the files are shared with a child, whose results come
    back as their cache entries and are rebuilt here (what ``_loads`` shows equal to
    loading them all here); how many each side takes depends on when the child starts."""
    root = tmp_path / "ws"
    _generate(root, 400)
    restored, files = map(int, _python(_RESTORED, str(root), "1").split())
    assert 0 < restored < files - 1  # some from the child, some here (seg.yaml aside)
    assert _python(_RESTORED, str(root), "1000000000").split()[0] == "0"  # all loaded here
