"""dbt models as seg reads them, and whether a change to one may go ahead while active Reverse
ETL mappings use it (config-resources §1.17, §4).

Pure: the workspace layer reads the files (``dbt_project.yml``, the models' SQL and YAML, the
manifest) and hands their parsed contents here. A model's output columns come from, in order:
the compiled SQL in the manifest (``dbt compile`` writes it; every macro expanded), else the
raw SQL with ``ref``/``source``/``config`` rendered to table names (other Jinja cannot be
rendered: the columns are then unknown); ``SELECT *`` is expanded through the upstream models'
columns where they are known; the columns documented in YAML are the last resort.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from seg.policy.models import MappingUse, ModelChangePolicy, Verdict
from seg.policy.sql import SqlError, output_columns

__all__ = [
    "DbtModel",
    "DbtProject",
    "ResolvedModels",
    "build_project",
    "changed_aspects",
    "judge_dbt_change",
    "project_settings",
    "render_sql",
]

MAX_MODELS = 100_000  # models read from one project (a manifest holds at most this many)


@dataclass(frozen=True)
class DbtModel:
    """One dbt model: where it is, what it says and which columns it returns."""

    name: str
    path: str  # relative to the project root (``models/marts/users.sql``)
    sql: str  # the raw SQL (Jinja)
    compiled: str | None = None  # the compiled SQL, from a manifest
    documented: tuple[str, ...] = ()  # the columns its YAML documents (lower-case)
    config: Mapping[str, Any] = field(default_factory=dict)  # project and YAML config
    columns: tuple[str, ...] | None = None  # output columns, lower-case; None: unknown
    how: str = ""  # where the columns come from, or why they are unknown
    # the columns were read from SQL (compiled or rendered), not taken from the YAML docs
    from_sql: bool = False
    # whether dbt builds it (``enabled`` in its config() call, YAML or dbt_project.yml); None:
    # seg cannot tell (an expression)
    enabled: bool | None = True
    several: tuple[str, ...] = ()  # the files defining it when there are several

    @property
    def label(self) -> str:
        return f"dbt model {self.name} ({self.path})"


@dataclass(frozen=True)
class DbtProject:
    name: str
    models: Mapping[str, DbtModel]
    from_manifest: bool = False
    notes: tuple[str, ...] = ()
    # the files of the project that could not be read (also among the notes)
    problems: tuple[str, ...] = ()

    def unresolved(self, name: str) -> DbtModel | None:
        """A model as its files say (cheap: its columns are not worked out)."""
        models = self.models
        return models.raw(name) if isinstance(models, ResolvedModels) else models.get(name)


def project_settings(data: Any) -> tuple[str, tuple[str, ...], Mapping[str, Any]]:
    """``dbt_project.yml``'s name, model paths and ``models:`` config block. Raises
    ValueError when it is not a dbt project file."""
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
        raise ValueError("dbt_project.yml has no name")
    paths = data.get("model-paths", data.get("source-paths", ["models"]))
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError("model-paths must be a list of directories")
    config = data.get("models") or {}
    block = config if isinstance(config, Mapping) else {}
    return data["name"], tuple(p.strip("/") for p in paths), block


# What seg renders inside {{ … }}: ref('m'), ref('package', 'm'), ref('m', v=2),
# source('s', 't'), config(…). Every match is bounded (a block is found with str.find first).
_REF_CALL = re.compile(r"""-?\s*ref\(\s*(?:(['"])[^'"]{0,255}\1\s*,\s*)?(['"])([^'"]{1,255})\2"""
                       r"""\s*(?:,[^()]{0,255})?\)\s*-?""")
_SOURCE_CALL = re.compile(r"""-?\s*source\(\s*(['"])([^'"]{1,255})\1\s*,\s*(['"])([^'"]{1,255})"""
                          r"""\3\s*\)\s*-?""")
_CONFIG_CALL = re.compile(r"-?\s*config\(.*\)\s*-?", re.S)
_OPENING = re.compile(r"\{[{%#]")
_CLOSING = {"{{": "}}", "{%": "%}", "{#": "#}"}


def _blocks(sql: str) -> Iterator[tuple[int, int, str, str]]:
    """Each Jinja block of ``sql``: (start, end, opener, inside); ValueError (with the
    block's start) when one is not closed. Linear: one scan, each block found with find."""
    pos = 0
    while (found := _OPENING.search(sql, pos)) is not None:
        opener = found.group()
        end = sql.find(_CLOSING[opener], found.end())
        if end < 0:
            raise ValueError(found.start())
        yield found.start(), end + 2, opener, sql[found.end() : end]
        pos = end + 2


def _line(sql: str, index: int) -> int:
    return sql.count("\n", 0, index) + 1


def _lines(tag: str) -> str:
    """The line breaks of a rendered tag, so the lines after it stay where they were."""
    return "\n" * tag.count("\n")


def render_sql(sql: str) -> str:
    """``sql`` with ``ref()``, ``source()``, ``config()`` and Jinja comments rendered (a ref
    becomes the model's name, a source ``schema.table``). Raises SqlError for any other Jinja,
    naming its line: seg cannot expand macros without the manifest."""
    out: list[str] = []
    pos = 0
    try:
        for start, end, opener, inside in _blocks(sql):
            out.append(sql[pos:start])
            pos = end
            if opener == "{#" or (opener == "{{" and _CONFIG_CALL.fullmatch(inside)):
                out.append(_lines(inside))
                continue
            ref = _REF_CALL.fullmatch(inside) if opener == "{{" else None
            source = _SOURCE_CALL.fullmatch(inside) if opener == "{{" and not ref else None
            if ref is not None:
                out.append(ref.group(3) + _lines(inside))
            elif source is not None:
                out.append(f"{source.group(2)}.{source.group(4)}" + _lines(inside))
            else:
                raise ValueError(start)
    except ValueError as exc:
        line = _line(sql, int(exc.args[0]))
        raise SqlError(f"line {line} uses Jinja that only dbt can render (run dbt compile "
                       "for a manifest)") from None  # fmt: skip
    out.append(sql[pos:])
    return "".join(out)


def refs_of(sql: str) -> tuple[str, ...]:
    """The models ``sql`` refers to with ``ref()`` (up to a block that is not closed)."""
    names = []
    try:
        for _start, _end, opener, inside in _blocks(sql):
            found = _REF_CALL.fullmatch(inside) if opener == "{{" else None
            if found is not None:
                names.append(found.group(3))
    except ValueError:
        pass
    return tuple(names)


def _config_for(block: Mapping[str, Any], project: str, path: str, paths: Iterable[str]
                ) -> dict[str, Any]:  # fmt: skip
    """The config ``dbt_project.yml``'s ``models:`` block gives a model at ``path``: the
    values along ``project/<directories under the model path>`` (``+key`` or a plain key
    holding a value)."""
    parts = path.split("/")
    for root in paths:
        if path.startswith(root + "/"):
            parts = path[len(root) + 1 :].split("/")
            break
    out: dict[str, Any] = {}
    node: Any = block.get(project)
    for part in ["", *parts[:-1]]:
        if part:
            node = node.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            break
        for key, value in node.items():
            if str(key).startswith("+"):
                out[str(key)[1:]] = value
            elif not isinstance(value, Mapping):
                out[str(key)] = value
    return out


def _yaml_models(docs: Iterable[tuple[str, Any]]) -> dict[str, tuple[tuple[str, ...], Any]]:
    """Per model name: the columns its YAML documents and its YAML ``config``."""
    out: dict[str, tuple[tuple[str, ...], Any]] = {}
    for _path, data in docs:
        entries = data.get("models") if isinstance(data, Mapping) else None
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                continue
            listed = entry.get("columns")
            columns: list[Any] = listed if isinstance(listed, list) else []
            names = tuple(str(c["name"]).lower() for c in columns
                          if isinstance(c, Mapping) and isinstance(c.get("name"), str))  # fmt: skip
            out[entry["name"]] = (names, entry.get("config"))
    return out


def build_project(
    settings: Any,
    sql_files: Mapping[str, str],
    yaml_docs: Iterable[tuple[str, Any]],
    manifest: Any = None,
    dialect: str | None = None,
) -> DbtProject:
    """A project from its files (``sql_files``: path → raw SQL under the model paths;
    ``yaml_docs``: the parsed YAML files there) and, when given, its manifest (parsed
    ``manifest.json``), which supplies compiled SQL for the models whose file it was compiled
    from (its ``raw_code`` is the file's SQL: a manifest of another revision is not used)."""
    name, paths, block = project_settings(settings)
    documented = _yaml_models(yaml_docs)
    notes: list[str] = []
    nodes = _manifest_models(manifest, name, notes) if manifest is not None else {}
    files: dict[str, list[str]] = {}
    for path in sorted(sql_files):
        model_name = path.rsplit("/", 1)[-1].removesuffix(".sql")
        if model_name in files or len(files) < MAX_MODELS:
            files.setdefault(model_name, []).append(path)
    raw: dict[str, DbtModel] = {}
    stale: list[str] = []
    for model_name, found in files.items():
        columns, yaml_config = documented.get(model_name, ((), None))
        compiled = {path: _compiled_for(nodes.get(model_name, []), path, sql_files[path])
                    for path in found}  # fmt: skip
        matched = [(path, code) for path, (ok, code) in compiled.items() if ok]
        if not matched and nodes.get(model_name):
            stale.append(found[0])
        if len(found) > 1 and len(matched) != 1:
            # dbt builds one of them (the others disabled); without a manifest compiled from
            # exactly these files seg cannot tell which: every file counts, no columns
            joined = "".join(f"-- {path}\n{sql_files[path]}\n" for path in found)
            why = (f"several files define it ({', '.join(found[:5])}); seg cannot tell "
                   "which one dbt builds")  # fmt: skip
            raw[model_name] = DbtModel(model_name, found[0], joined, None, columns, {}, None,
                                       why, False, None, tuple(found))  # fmt: skip
            notes.append(f"dbt model {model_name}: {why}")
            continue
        path, code = matched[0] if matched else (found[0], None)
        config = _config_for(block, name, path, paths)
        if isinstance(yaml_config, Mapping):
            config.update({str(k): v for k, v in yaml_config.items()})
        model = DbtModel(model_name, path, sql_files[path], code, columns, config)
        raw[model_name] = DbtModel(**{**model.__dict__, "enabled": _enabled(model)})
    if stale:
        notes.append(f"the manifest was not compiled from {_plural_files(stale)} (another "
                     "revision?): their compiled SQL is not used")  # fmt: skip
    if manifest is None:
        notes.append("no manifest (target/manifest.json): columns are read from each "
                     "model's SQL with ref() and source() rendered; other macros are not "
                     "expanded")  # fmt: skip
    return DbtProject(name, ResolvedModels(raw, dialect), manifest is not None, tuple(notes))


def _plural_files(paths: list[str]) -> str:
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return f"{'these files' if len(paths) > 1 else 'the file'} ({shown})"


@dataclass(frozen=True)
class _Node:
    path: str | None  # original_file_path
    raw: str | None  # raw_code: the file's SQL when it was compiled
    compiled: str | None


def _compiled_for(nodes: list[_Node], path: str, sql: str) -> tuple[bool, str | None]:
    """(whether the manifest may speak for this file, the compiled SQL of the node compiled
    from its SQL): no node of the name at all speaks for nothing (None); nodes of the name of
    which none was compiled from this file's SQL (another revision's manifest) are refused."""
    if not nodes:
        return True, None
    for node in nodes:
        if node.path in (None, path) and node.raw is not None and node.raw.strip() == sql.strip():
            return True, node.compiled
    return False, None


_ENABLED_ARG = re.compile(r"\benabled\s*=\s*([A-Za-z_]\w{0,20})?")


def _enabled(model: DbtModel) -> bool | None:
    """Whether dbt builds the model: its SQL's config(enabled=…) overrides its YAML and
    dbt_project.yml; anything but a literal true or false is None (seg cannot tell)."""
    value: object = model.config.get("enabled", True)
    try:
        for _start, _end, opener, inside in _blocks(model.sql):
            if opener == "{{" and _CONFIG_CALL.fullmatch(inside) and "enabled" in inside:
                found = _ENABLED_ARG.search(inside)
                literal = found.group(1) if found else None
                value = {"true": True, "false": False}.get((literal or "").lower(), "?")
    except ValueError:
        pass  # a block that is not closed: dbt fails on it; its columns are unknown anyway
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    return value if isinstance(value, bool) else None


def _manifest_models(manifest: Any, project: str, notes: list[str]) -> dict[str, list[_Node]]:
    nodes = manifest.get("nodes") if isinstance(manifest, Mapping) else None
    if not isinstance(nodes, Mapping):
        notes.append("the manifest has no nodes; it is ignored")
        return {}
    out: dict[str, list[_Node]] = {}
    count = 0
    for node in nodes.values():
        if (not isinstance(node, Mapping) or node.get("resource_type") != "model"
                or node.get("package_name") != project
                or not isinstance(node.get("name"), str)):  # fmt: skip
            continue
        count += 1
        if count > MAX_MODELS:
            break
        path, raw = node.get("original_file_path"), node.get("raw_code", node.get("raw_sql"))
        code = node.get("compiled_code")
        out.setdefault(node["name"], []).append(_Node(
            path if isinstance(path, str) else None, raw if isinstance(raw, str) else None,
            code if isinstance(code, str) else None))  # fmt: skip
    if out and all(n.compiled is None for found in out.values() for n in found):
        notes.append("the manifest holds no compiled SQL (dbt parse); run dbt compile for it")
    return out


class ResolvedModels(Mapping[str, DbtModel]):
    """A project's models, each with its output columns worked out when it is first looked up
    (its upstream models' first, for ``SELECT *``): a check of a few models does not parse a
    project of thousands. The walk keeps its own stack, so a chain of refs as long as the
    project is not a recursion; a ref inside a cycle gives no columns."""

    def __init__(self, models: Mapping[str, DbtModel], dialect: str | None) -> None:
        self._raw = dict(sorted(models.items()))
        self._dialect = dialect
        self._done: dict[str, DbtModel] = {}
        self._seen: set[str] = set()

    def raw(self, name: str) -> DbtModel | None:
        """The model as its files say, its columns not worked out."""
        return self._raw.get(name)

    def __getitem__(self, name: str) -> DbtModel:
        if name not in self._done:
            self._resolve(name)
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def _resolve(self, root: str) -> None:
        raw = self._raw
        if root not in raw:
            raise KeyError(root)
        self._seen.add(root)
        stack = [(root, iter(refs_of(raw[root].sql)))]
        while stack:
            name, refs = stack[-1]
            child = next((r for r in refs if r in raw and r not in self._seen), None)
            if child is None:
                stack.pop()
                self._done[name] = self._with_columns(raw[name])
            else:
                self._seen.add(child)
                stack.append((child, iter(refs_of(raw[child].sql))))

    def _with_columns(self, model: DbtModel) -> DbtModel:
        if model.several:
            return model  # several files define it: seg cannot tell which one is built
        schema = {ref: columns for ref in refs_of(model.sql)
                  if ref in self._done and (columns := self._done[ref].columns)}  # fmt: skip
        columns, how, from_sql = _columns(model, schema, self._dialect)
        return DbtModel(model.name, model.path, model.sql, model.compiled, model.documented,
                        model.config, columns, how, from_sql, model.enabled)  # fmt: skip


def _columns(model: DbtModel, upstream: Mapping[str, tuple[str, ...]], dialect: str | None
             ) -> tuple[tuple[str, ...] | None, str, bool]:  # fmt: skip
    if model.compiled is not None:
        sql, how = model.compiled, "the compiled SQL in the manifest"
    else:
        try:
            sql, how = render_sql(model.sql), "the SQL with ref() and source() rendered"
        except SqlError as exc:
            return _documented(model, f"the SQL cannot be read: {exc}")
    try:
        columns = select_columns(sql, upstream, dialect)
    except SqlError as exc:
        return _documented(model, f"the SQL cannot be parsed: {exc}")
    if columns is None:
        return _documented(model, "the SQL selects * from a model whose columns are unknown")
    return columns, how, True


def _documented(model: DbtModel, why: str) -> tuple[tuple[str, ...] | None, str, bool]:
    if model.documented:
        return model.documented, f"the columns documented in YAML ({why})", False
    return None, why, False


def select_columns(sql: str, upstream: Mapping[str, tuple[str, ...]], dialect: str | None
                   ) -> tuple[str, ...] | None:  # fmt: skip
    """The output columns of ``sql``, lower-case, with ``*`` expanded through ``upstream``
    (table name → columns; the last part of a qualified name is matched); None when a star
    remains. Raises SqlError when the SQL is not one query."""

    columns = output_columns(sql, dialect)
    if columns is not None:
        return columns
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.qualify import qualify

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        tables = {t.name: t for t in tree.find_all(exp.Table)}
        schema: dict[str, object] = {t: dict.fromkeys(upstream[t], "TEXT")
                                     for t in tables if t in upstream}  # fmt: skip
        for table in tables.values():  # match qualified names ("db"."schema"."t") by table
            table.set("catalog", None)
            table.set("db", None)
        expanded = qualify(tree, schema=schema, dialect=dialect, validate_qualify_columns=False)
    except (sqlglot.errors.SqlglotError, RecursionError) as exc:
        raise SqlError(str(exc).splitlines()[0] if str(exc) else "unreadable SQL") from None
    if not isinstance(expanded, exp.Query):
        raise SqlError("the model must be a single SELECT query")
    names = []
    for select in expanded.selects:
        name = select.alias_or_name
        if isinstance(select, exp.Star) or name in ("", "*"):
            return None
        names.append(name.lower())
    return tuple(names)


def changed_aspects(old: DbtModel, new: DbtModel) -> tuple[str, ...]:
    """What differs between two revisions of a model: its SQL, its compiled SQL (both
    manifests given), its documented columns, its config, its file."""
    aspects = []
    if " ".join(old.sql.split()) != " ".join(new.sql.split()):
        aspects.append("SQL")
    if (old.compiled is not None and new.compiled is not None
            and " ".join(old.compiled.split()) != " ".join(new.compiled.split())):  # fmt: skip
        aspects.append("compiled SQL")
    if old.documented != new.documented:
        aspects.append("columns in YAML")
    if dict(old.config) != dict(new.config):
        aspects.append("config")
    if old.path != new.path:
        aspects.append(f"file ({old.path} → {new.path})")
    return tuple(aspects)


def judge_dbt_change(
    policy: ModelChangePolicy,
    model: str,
    identifier: str,
    old: DbtModel,
    new: DbtModel | None,
    uses: list[MappingUse],
    renamed_to: str | None = None,
) -> Verdict:
    """May dbt model ``old`` become ``new`` (None: removed, or ``renamed_to`` another name)
    while seg model ``model`` (its identifier column ``identifier``) is in use by ``uses``?"""
    if not uses:
        return Verdict(False)
    names = tuple(u.address for u in uses)
    head = f"model {model} (dbt model {old.name}) is in use by {', '.join(names)}: "
    if new is None:
        gone = f"renamed to {renamed_to}" if renamed_to else "removed"
        return Verdict(True, (head + f"the dbt model is {gone}",), names)
    aspects = changed_aspects(old, new)
    if not aspects:
        return Verdict(False)
    if new.enabled is False:  # dbt no longer builds it: as good as removed
        return Verdict(True, (head + "the dbt model is disabled (enabled: false)",), names)
    if policy == ModelChangePolicy.STRICT:
        reason = f"its {', '.join(aspects)} change (policy strict blocks any change)"
        return Verdict(True, (head + reason,), names)
    if new.columns is None or not new.from_sql:
        # YAML docs say what a model should return, not what its SQL does: not enough to
        # let a change through
        reason = (f"its output columns cannot be read from its SQL, so seg fails closed "
                  f"({new.how})")  # fmt: skip
        return Verdict(True, (head + reason,), names)
    if new.enabled is None:
        reason = ("seg cannot tell whether dbt still builds it (its enabled config is not "
                  "true or false), so seg fails closed")  # fmt: skip
        return Verdict(True, (head + reason,), names)
    reasons = []
    if identifier.lower() not in new.columns:
        reasons.append(f"identifier column {identifier} is no longer among its columns")
    for use in uses:
        missing = [c for c in use.columns if c not in new.columns]
        if missing:
            reasons.append(f"{use.address} maps {', '.join(missing)}, which it no longer returns")
    if not reasons:
        return Verdict(False)
    return Verdict(True, (head + "; ".join(reasons),), names)
