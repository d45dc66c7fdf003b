"""Random workspaces and edits for the validate-cache tests (``tests/unit/test_validate_cache.py``
and ``test_load_memo.py``): a ``State`` of files and environment, edit operations drawn by
hypothesis, and ``result``, everything a load gives in a comparable form."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from seg.errors import WorkspaceInvalid
from seg.workspace.loader import load_workspace


def source_doc(name: str, enabled: bool) -> str:
    return (f"kind: Source\nname: {name}\nspec:\n  catalog: javascript\n"
            f"  enabled: {str(enabled).lower()}\n  settings: {{track_pages: true}}\n")  # fmt: skip


def amplitude(source: str, name: str) -> str:
    return (f"kind: Destination\nname: {name}\nspec:\n  source: {source}\n  catalog: amplitude\n"
            "  enabled: true\n  settings:\n    api_key: ${env:SEG_T_KEY}\n"
            "    region: ${var:region}\n")  # fmt: skip


def webhook(source: str, name: str) -> str:
    return (f"kind: Destination\nname: {name}\nspec:\n  source: {source}\n  catalog: webhook\n"
            "  enabled: true\n  settings:\n    url: https://hooks.example/${env:SEG_T_HOOK}/x\n"
            "    headers: {x-team: 'a$$b'}\n")  # fmt: skip


def warehouse_source(name: str) -> str:
    return (f"kind: Source\nname: {name}\nspec:\n  catalog: postgres\n  settings:\n"
            "    host: db.internal\n    database: analytics\n    password: ${env:SEG_T_KEY}\n")


def braze(source: str) -> str:
    return (f"kind: Destination\nname: braze\nspec:\n  source: {source}\n  catalog: braze\n"
            "  enabled: true\n  settings: {api_key: '${env:SEG_T_KEY}'}\n")


def model(source: str, name: str, sql: str) -> str:
    return (f"kind: Model\nname: {name}\nspec:\n  source: {source}\n  query_file: {sql}\n"
            "  identifier_column: user_id\n")


def mapping(source: str, name: str, model: str, column: str) -> str:
    return (f"kind: Mapping\nname: {name}\nspec:\n  destination: {source}/braze\n"
            f"  action: updateUserProfile\n  enabled: true\n  model: {model}\n"
            "  schedule: {strategy: PERIODIC, config: {interval: 1h}}\n"
            f"  fields: {{email: {column}}}\n")  # fmt: skip


@dataclass
class State:
    files: dict[str, list[str]] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)  # sql files
    region: str = "eu"
    environ: dict[str, str] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        shutil.rmtree(root / "ws", ignore_errors=True)
        for rel, text in {**{k: "---\n".join(v) for k, v in self.files.items()},
                          **self.others}.items():  # fmt: skip
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: t\nvars: {{region: {self.region}}}\n")


def initial(sources: int) -> State:
    state = State(environ={"SEG_T_KEY": "k-secret-value", "SEG_T_HOOK": "hook-secret-path"})
    for i in range(sources):
        name = f"s{i}"
        state.files[f"sources/{name}.yaml"] = [source_doc(name, True), amplitude(name, "amp"),
                                               webhook(name, "hook")]  # fmt: skip
    state.files["warehouse/w.yaml"] = [warehouse_source("w"), braze("w"),
                                       model("w", "users", "users.sql"),
                                       mapping("w", "sync", "users", "email")]  # fmt: skip
    state.others["warehouse/users.sql"] = "SELECT user_id, email FROM analytics.users"
    return state


Op = tuple[str, int, int]
OPS = st.lists(st.tuples(st.sampled_from(["value", "add", "remove", "break", "rename", "vars",
                                          "env", "sql", "yaml"]),
                         st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=6)  # fmt: skip


def apply(state: State, op: Op) -> None:
    what, a, b = op
    names = sorted(state.files)
    rel = names[a % len(names)] if names else None
    if what == "value" and rel:
        docs = state.files[rel]
        if docs and docs[0].startswith("kind: Source") and "javascript" in docs[0]:
            name = docs[0].split("\n")[1].split(": ")[1]
            docs[0] = source_doc(name, bool(b % 2) if "enabled: true" in docs[0] else True)
    elif what == "add" and rel:
        source = Path(rel).stem if rel.startswith("sources/") else "s0"
        state.files[rel].append(amplitude(source, f"amp{b}") if b % 2 else webhook(source, f"h{b}"))
    elif what == "remove" and rel and state.files[rel]:
        state.files[rel].pop(b % len(state.files[rel]))
    elif what == "break":
        docs = state.files.get("warehouse/w.yaml")
        if docs:
            docs.append(mapping("w", f"bad{b}", f"nomodel{b}" if b % 2 else "users", "email"))
    elif what == "rename" and rel:
        state.files[f"moved/m{b}-{Path(rel).name}"] = state.files.pop(rel)
    elif what == "vars":
        state.region = ["eu", "us", "mars"][b % 3]
    elif what == "env":
        name = ["SEG_T_KEY", "SEG_T_HOOK"][a % 2]
        if b % 3 == 0:
            state.environ.pop(name, None)
        else:
            state.environ[name] = f"value-{b}-secret"
    elif what == "sql":
        column = ["email", "mail"][b % 2]
        state.others["warehouse/users.sql"] = f"SELECT user_id, {column} FROM analytics.users"
    elif what == "yaml" and rel:
        state.files[rel].append("kind: [unclosed\n" if b % 2 else f"kind: Sorce\nname: x{b}\nspec: {{}}\n")


def load_result(root: Path, environ: dict[str, str], cache: bool) -> Any:
    try:
        ws = load_workspace(root, environ=environ, cache=cache)
    except WorkspaceInvalid as exc:
        return ("invalid", [str(d) for d in exc.diagnostics])
    resources = [(r, sorted(r.marks.items()), dict(r.value_files)) for r in ws.resources]
    return (resources, ws.digest, ws.secret_values, ws.missing, ws.warnings)


# A small workspace for the cache attacks (tests/security/test_validate_cache.py and
# test_load_memo.py): one source and a destination whose API key comes from the environment.
SECRET = "very-secret-api-key-0123456789"
ENVIRON = {"SEG_T_KEY": SECRET}
GOOD = ("kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings: {track_pages: true}\n"
        "---\nkind: Destination\nname: amp\nspec:\n  source: web\n  catalog: amplitude\n"
        "  settings: {api_key: '${env:SEG_T_KEY}', region: eu}\n")  # fmt: skip
BAD = GOOD.replace("region: eu", "region: nowhere").replace("source: web", "source: nosuch")


def write_sources(root: Path, text: str) -> None:
    """``root`` as a workspace of seg.yaml and ``sources.yaml`` holding ``text``."""
    root.mkdir(exist_ok=True)
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: t\n")
    (root / "sources.yaml").write_text(text)


def problems(root: Path, cache: bool = True) -> list[str]:
    """Every diagnostic of loading ``root`` with ``ENVIRON`` (none when it is valid)."""
    try:
        load_workspace(root, environ=ENVIRON, cache=cache)
    except WorkspaceInvalid as exc:
        return [str(d) for d in exc.diagnostics]
    return []
