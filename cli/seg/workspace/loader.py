"""``load_workspace``: a directory (or a git revision) of YAML → a validated ``Workspace``."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seg.errors import WorkspaceInvalid
from seg.kinds import KINDS
from seg.model.clip import MAX_ECHO, clip, clip_repr
from seg.model.gcpause import without_gc
from seg.model.kinds import FileField, Kind
from seg.model.paths import replaced_at, value_leaves
from seg.model.resource import DesiredResource, Origin
from seg.model.secrets import FROM_ENVIRONMENT, REDACTED, follow_moved, scrub
from seg.model.teardown import keep_until_exit
from seg.model.wording import close_match
from seg.workspace import delta
from seg.workspace.cache import FileCache, FileResult, RecordingTree, cache_enabled, cacheable
from seg.workspace.catalog_files import catalog_file_paths, tree_catalog
from seg.workspace.config import CONFIG_FILE, WorkspaceConfig, load_config
from seg.workspace.dbt_project import DbtTreeOpener, dbt_directories, dbt_links
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.fanout import in_background
from seg.workspace.interpolate import Interpolation, interpolate
from seg.workspace.linked import LinkedFile, LinkedFileError, read_linked_file
from seg.workspace.memo import (
    Files,
    LoadMemo,
    Memoised,
    RecordingEnviron,
    Seen,
    Stale,
    identities,
    trusted,
)
from seg.workspace.references import check_references, with_catalog_secrets
from seg.workspace.rules_cache import ResourceKey, RulesCache, resource_key
from seg.workspace.schema_check import check_against_schema
from seg.workspace.tree import FsTree, Tree, display_path, is_resource_file
from seg.workspace.yamlpos import YamlDocument, YamlError, read_documents

__all__ = [
    "Checked",
    "MissingVariable",
    "SpecMarks",
    "Workspace",
    "declared_addresses",
    "display_path",
    "check_workspace",
    "load_workspace",
]


@dataclass(frozen=True, order=True)
class MissingVariable:
    """A ``${env:NAME}`` whose variable is not set, and where it is used (the name cut to
    80 characters: every message that names it quotes it)."""

    name: str
    file: str
    line: int
    col: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: its settings and its resources in apply order.

    A ``${env:…}`` whose variable is not set is not an error here: its value is unknown
    (``DesiredResource.unknown_paths``), every check that does not need it still runs, and
    ``missing`` lists where it is used. Commands that need every value refuse such a
    workspace (``seg plan`` unless ``--missing-secrets=skip``, ``seg apply`` always)."""

    config: WorkspaceConfig
    resources: tuple[DesiredResource, ...]
    digest: str
    # every value ${env:…} put in: the commands hide these in all they print
    secret_values: frozenset[str] = frozenset()
    missing: tuple[MissingVariable, ...] = ()
    # what the rules warn about (shown by seg validate; refuses nothing)
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def missing_variables(self) -> tuple[str, ...]:
        return tuple(sorted({m.name for m in self.missing}))


class SpecMarks(Mapping[tuple[str, ...], Origin]):
    """Where each value under ``spec`` was written (looked up on demand)."""

    def __init__(self, file: str, value_marks: dict[tuple[Any, ...], tuple[int, int]]) -> None:
        self._file = file
        self._marks = value_marks

    def __getitem__(self, path: tuple[Any, ...]) -> Origin:
        key = ("spec", *path)
        if key not in self._marks:  # list positions may be given as digit strings
            key = ("spec", *(int(p) if isinstance(p, str) and p.isdigit() else p for p in path))
        line, col = self._marks[key]
        return Origin(self._file, line, col)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (tuple(str(k) for k in p[1:]) for p in self._marks if p[:1] == ("spec",))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class _Context:
    tree: Tree
    config: WorkspaceConfig
    environ: Mapping[str, str]
    # Resources whose documents failed: references to them are not reported again.
    broken: set[tuple[str, str]]
    # The chosen environment's overlays (envs/<env>/…): partial specs merged by address.
    overlays: dict[tuple[str, str], tuple[dict[str, Any], Diagnostic]] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)
    env_values: set[str] = field(default_factory=set)
    missing: list[MissingVariable] = field(default_factory=list)


@dataclass(frozen=True)
class Checked:
    """What ``seg validate`` reports of a valid workspace (``check_workspace``): the counts
    by kind, the warnings, the missing variables, the values from the environment (to hide)
    and the resources with JavaScript code (for ``node --check``)."""

    config: WorkspaceConfig
    counts: Mapping[str, int]
    warnings: tuple[Diagnostic, ...]
    missing: tuple[MissingVariable, ...]
    secret_values: frozenset[str]
    javascript: tuple[DesiredResource, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def missing_variables(self) -> tuple[str, ...]:
        return tuple(sorted({m.name for m in self.missing}))


@without_gc
def load_workspace(
    root: Path,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    tree: Tree | None = None,
    dbt_opener: DbtTreeOpener | None = None,
    cache: bool | None = None,
) -> Workspace:
    """Load and validate ``root``; raises WorkspaceInvalid with every problem found.

    The dbt projects seg.yaml names are read through ``dbt_opener`` (default: directories of
    this repository only); a workspace read from a git revision (``tree``) without an opener
    does not look at them (its dbt links are not checked). ``cache`` (default: on for a
    directory, unless ``--no-cache`` or ``$SEG_NO_CACHE``): reuse the checked documents of
    files that did not change (``seg.workspace.cache``); the result is the same either way."""
    loaded = _load(root, env, environ, tree, dbt_opener, cache, quick=False)
    assert isinstance(loaded, Workspace)
    keep_until_exit(loaded)
    return loaded


@without_gc
def check_workspace(root: Path, env: str | None = None, environ: Mapping[str, str] | None = None,
                    dbt_opener: DbtTreeOpener | None = None, cache: bool | None = None
                    ) -> Checked:  # fmt: skip
    """``load_workspace`` of a directory as ``seg validate`` reports it (the same problems
    raised). With the cache, it may not load every file: unchanged since the last valid
    load, nothing is loaded (``LoadMemo.summary``); after an edit of a few files, only those
    are, and checked against the rest (``seg.workspace.delta``)."""
    loaded = _load(root, env, environ, None, dbt_opener, cache, quick=True)
    if isinstance(loaded, Checked):
        return loaded
    counts: dict[str, int] = {}
    for res in loaded.resources:
        counts[res.kind.name] = counts.get(res.kind.name, 0) + 1
    javascript = tuple(r for r in loaded.resources if r.kind.javascript_fields)
    return Checked(loaded.config, counts, loaded.warnings, loaded.missing, loaded.secret_values,
                   javascript)  # fmt: skip


def _load(root: Path, env: str | None, environ: Mapping[str, str] | None, tree: Tree | None,
          dbt_opener: DbtTreeOpener | None, cache: bool | None, quick: bool
          ) -> Workspace | Checked:  # fmt: skip
    plain_environ = os.environ if environ is None else environ
    environ = RecordingEnviron(plain_environ)  # what the whole load looked up, for the memo
    read_dbt = tree is None or dbt_opener is not None
    tree = tree or FsTree(root)
    use_cache = (cache_enabled() and cacheable(tree)) if cache is None else cache
    listed = tree.files()
    # identities taken before anything is read: what a memo of this load can be proved by
    seen = identities(tree, listed) if use_cache else None
    shown_files = trusted(seen)
    config, problems = load_config(root, tree, env, environ)
    if config is None:
        raise WorkspaceInvalid(problems)
    ctx = _Context(tree, config, environ, set())
    problems += _load_overlays(ctx, env)
    memo = None
    if seen is not None and not (config.dbt_projects and read_dbt):
        memo = LoadMemo(root, repr((tree.display(""), env, sorted(config.vars.items()))),
                        plain_environ, config.vars)  # fmt: skip
        if quick:
            checked = _checked_from_memo(ctx, memo, seen, shown_files, problems)
            if checked is not None:
                return checked
        elif shown_files is not None:
            hit = memo.lookup(tree, shown_files)
            if hit is not None:
                return Workspace(config, hit.resources, hit.digest, hit.secret_values,
                                 hit.missing, hit.warnings)  # fmt: skip
    resources: list[DesiredResource] = []
    catalog_files = catalog_file_paths(config)
    inside = dbt_directories(config)
    files = _file_cache(root, ctx) if use_cache else None
    tokens: dict[ResourceKey, bytes] = {}
    loaded: list[tuple[str, FileResult]] = []  # each resource file and what it gave (cached)
    rels = [rel for rel in listed
            if (is_resource_file(rel) and rel not in catalog_files
                and not any(rel.startswith(d + "/") for d in inside))]  # fmt: skip
    if files is None:
        for rel in rels:
            problems += _load_file(ctx, rel, resources)
    else:  # each file's effects are kept apart (``_runner``), so merged after, in order
        for rel, result in zip(rels, files.load_all(tree, rels, lambda rel: _runner(ctx, rel)),
                               strict=True):  # fmt: skip
            loaded.append((rel, result))
            problems += _merge_result(ctx, result, resources, tokens)
    for key, (_, where) in sorted(ctx.overlays.items()):
        if key not in ctx.used:
            message = f"overlay for {key[0]} {key[1]!r} matches no resource in the workspace"
            problems.append(Diagnostic(where.file, where.line, where.col, message, "overlay"))
    catalog_reads = RecordingTree(tree)
    catalog, found = tree_catalog(catalog_reads, config)
    problems += found
    extra = found  # the warnings of no resource file that seg.yaml does not give again
    before = list(resources)
    resources[:] = with_catalog_secrets(resources, catalog)
    if files is not None:
        # a value the catalog marks secret but written in the file (not from ${env:…}) would
        # be kept in clear with its file's entry: such files are read again every time
        shown = {tree.display(rel): rel for rel in listed}
        for old, new in zip(before, resources, strict=True):
            if new is not old and old.origin is not None and old.origin.file in shown:
                files.forget(shown[old.origin.file])
    rules = None
    if files is not None:  # the rules' results depend on the catalog and the plan tier too
        inputs = repr((files.inputs, config.plan_tier, config.catalog,
                       sorted(catalog_reads.reads.items())))  # fmt: skip
        rules = RulesCache(root, inputs)
    # references to external resources (seg.yaml) are the control plane's to resolve
    links = None
    if config.dbt_projects and read_dbt:
        links, found = dbt_links(config, dbt_opener, tree.display(CONFIG_FILE))
        problems += found
    if rules is not None:
        rules.prepare(resources, tokens, links is not None)
    each: list[tuple[list[Diagnostic], list[tuple[str, str]]]] | None = (
        [] if memo is not None and rules is not None else None)  # fmt: skip
    problems += check_references(resources, ctx.broken | set(config.external), catalog,
                                 config.plan_tier, links,
                                 rules, each)  # fmt: skip
    problems += _declared_external(resources, config.external)
    # a check may quote a value: never one from the environment
    problems = sorted(_hide_env_values(problems, ctx.env_values))
    keep_until_exit(ctx, loaded, resources, tokens, files, rules, each)  # freed by the exit
    if any(not p.is_warning for p in problems):
        if files is not None and rules is not None:
            files.save()
            rules.save()
        raise WorkspaceInvalid(problems)
    in_load_order = list(resources)
    resources.sort(key=lambda r: (r.kind.order, r.address))
    if files is None or rules is None:
        return Workspace(config, tuple(resources), _digest(resources), frozenset(ctx.env_values),
                         tuple(sorted(ctx.missing)), tuple(problems))  # fmt: skip
    keeping = None
    if memo is not None and shown_files is not None and files.complete:
        read = files.read_paths() | {rel for rel, _ in catalog_reads.reads}
        keeping = memo.keeping(tree, shown_files, read, environ, resources,
                               frozenset(ctx.env_values))  # fmt: skip
    # the caches are written by forked children while the memo is made here: the file cache
    # and the memo's rows by one, the digest made and the rules cache (which keeps its
    # parts) written by another; each waited for before the load returns
    rows_written = in_background(_then(files.save, keeping.write_rows if keeping else None))
    cached_rules = rules

    def digest_and_save() -> str:
        made = cached_rules.digest(resources, digest_part)
        cached_rules.save()
        return made

    digesting = in_background(digest_and_save)
    try:
        sections = None
        if keeping is not None and each is not None:
            rows = {id(res): row for row, res in enumerate(resources)}
            sections = delta.sections(
                [(rel, result, files.reads_of(rel)) for rel, result in loaded],
                in_load_order, rows, each, rules.reads, extra,
                lambda found: _hide_env_values(found, ctx.env_values))  # fmt: skip
        digest = digesting.wait() or rules.digest(resources, digest_part)  # (its child failed)
        done = Memoised(tuple(resources), frozenset(ctx.env_values), tuple(sorted(ctx.missing)),
                        tuple(problems), digest)  # fmt: skip
        if keeping is not None and rows_written.wait():  # the memo names its rows: once written
            keeping.finish(done, sections)
    finally:
        rows_written.wait()
        digesting.wait()
    return Workspace(config, done.resources, digest, done.secret_values, done.missing,
                     done.warnings)  # fmt: skip


def _then(save: Callable[[], None], then: Callable[[], bool] | None) -> Callable[[], bool]:
    """``save``, then ``then`` (when given): whether ``then`` succeeded."""

    def job() -> bool:
        save()
        return then is not None and then()

    return job


def _checked_from_memo(ctx: _Context, memo: LoadMemo, seen: Seen,
                       shown_files: Files | None, problems: list[Diagnostic]
                       ) -> Checked | None:  # fmt: skip
    """``seg validate``'s answer from the memo: kept whole when no file changed, else the
    changed files checked against it (``seg.workspace.delta``); None when it cannot say."""
    if any(not p.is_warning for p in problems):  # the whole load says it, with the rest
        return None
    config = ctx.config
    if shown_files is not None:
        kept = memo.summary(shown_files)
        if kept is not None:
            return Checked(config, kept.counts, kept.warnings, kept.missing, kept.secret_values,
                           kept.javascript)  # fmt: skip
    base = memo.base(seen)
    if base is None or not base.changed:
        return None
    catalog, found = tree_catalog(ctx.tree, config)
    if found:
        return None
    try:
        outcome = delta.check(base, lambda rel: _runner(ctx, rel)(ctx.tree, ctx.environ),
                              catalog, config.plan_tier, config.external)  # fmt: skip
    except Stale:  # another load rewrote the memo meanwhile
        return None
    if outcome is None:
        return None
    warnings = sorted(_hide_env_values(problems + outcome.warnings, outcome.env_values))
    missing = tuple(sorted(MissingVariable(*m) for m in outcome.missing))
    return Checked(config, outcome.counts, tuple(warnings), missing,
                   frozenset(outcome.env_values), outcome.javascript)  # fmt: skip


def declared_addresses(root: Path, tree: Tree | None = None
                       ) -> tuple[set[tuple[str, str]], list[Diagnostic]]:  # fmt: skip
    """The (kind, address) every resource document names, read without interpolation or
    validation (``seg export --merge`` must not need secrets or a valid tree), and the files
    that could not be read at all."""
    tree = tree or FsTree(root)
    found: set[tuple[str, str]] = set()
    unread: list[Diagnostic] = []
    for rel in tree.files():
        if not is_resource_file(rel):
            continue
        shown = tree.display(rel)
        try:
            docs = list(read_documents(tree.read(rel)))
        except YamlError as exc:
            unread.append(Diagnostic(shown, exc.line, exc.col, exc.message, "yaml"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            unread.append(Diagnostic(shown, 1, 1, f"cannot read file: {exc}", "io"))
            continue
        for doc in docs:
            key = document_address(doc.value)
            if key is not None:
                found.add(key)
    return found, unread


def _declared_external(resources: list[DesiredResource], external: frozenset[tuple[str, str]]
                       ) -> list[Diagnostic]:  # fmt: skip
    """A tree manages a resource (a document) or refers to it (seg.yaml external), not both."""
    return [
        Diagnostic(r.origin.file, r.origin.line, r.origin.col,
                   f"{r.kind.name} {r.address!r} is declared here and listed under external: "
                   "in seg.yaml; a tree manages a resource or refers to it, not both",
                   "config/external")
        for r in resources if (r.kind.name, r.address) in external and r.origin is not None
    ]  # fmt: skip


def _hide_env_values(problems: list[Diagnostic], values: set[str]) -> list[Diagnostic]:
    return [replace(p, message=scrub(p.message, values, FROM_ENVIRONMENT)) for p in problems]


def document_address(value: Any) -> tuple[str, str] | None:
    """(kind, address) of a resource or overlay document (None: it names none)."""
    if not isinstance(value, dict):
        return None
    kind = KINDS.get(str(value.get("kind")))
    name, spec = value.get("name"), value.get("spec")
    if kind is None or not isinstance(name, str) or not isinstance(spec, dict):
        return None
    parent = spec.get(kind.parent_field) if kind.parent_field else None
    return kind.name, f"{parent}/{name}" if isinstance(parent, str) else name


def _merge(base: Any, overlay: Any) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in overlay.items()}}
    return overlay


def _load_overlays(ctx: _Context, env: str | None) -> list[Diagnostic]:
    """``envs/<env>/**.yaml``: documents naming a resource (kind, name, parent) with the spec
    values that differ in that environment."""
    if env is None:
        return []
    problems: list[Diagnostic] = []
    prefix = f"envs/{env}/"
    for rel in ctx.tree.files():
        if not rel.startswith(prefix) or not rel.endswith((".yaml", ".yml")):
            continue
        shown = ctx.tree.display(rel)
        try:
            docs = list(read_documents(ctx.tree.read(rel)))
        except YamlError as exc:
            problems.append(Diagnostic(shown, exc.line, exc.col, exc.message, "yaml"))
            continue
        for doc in docs:
            key = document_address(doc.value)
            if key is None:
                message = "an overlay document needs kind, name and spec (with its parent)"
                problems.append(Diagnostic(shown, doc.line, doc.col, message, "overlay"))
                continue
            where = Diagnostic(shown, *doc.mark(("name",)), "", "overlay")
            ctx.overlays[key] = (doc.value["spec"], where)
    return problems


def _file_cache(root: Path, ctx: _Context) -> FileCache:
    """The cache of checked files, for the inputs every document depends on: the vars, the
    overlays and the path files are shown under (seg.yaml's other settings are read after)."""
    inputs = repr((ctx.tree.display(""), sorted(ctx.config.vars.items()),
                   sorted(ctx.overlays.items())))  # fmt: skip
    return FileCache(root, inputs, ctx.environ, ctx.config.vars)


def _runner(ctx: _Context, rel: str) -> Any:
    """``_load_file`` of ``rel`` on the cache's recording views, its effects kept apart."""

    def run(tree: Tree, environ: Mapping[str, str]) -> FileResult:
        sub = replace(ctx, tree=tree, environ=environ, broken=set(), used=set(),
                      env_values=set(), missing=[])  # fmt: skip
        out = FileResult()
        out.problems = _load_file(sub, rel, out.resources)
        out.broken, out.used = sub.broken, sub.used
        out.env_values, out.missing = sub.env_values, sub.missing
        return out

    return run


def _merge_result(ctx: _Context, result: FileResult, out: list[DesiredResource],
                  tokens: dict[ResourceKey, bytes]) -> list[Diagnostic]:  # fmt: skip
    if result.token is not None:
        for place, res in enumerate(result.resources):
            tokens[resource_key(res)] = result.token + place.to_bytes(4, "big")
    ctx.broken.update(result.broken)
    ctx.used.update(result.used)
    ctx.env_values.update(result.env_values)
    ctx.missing.extend(result.missing)
    out.extend(result.resources)
    return list(result.problems)


def _load_file(ctx: _Context, rel: str, out: list[DesiredResource]) -> list[Diagnostic]:
    shown = ctx.tree.display(rel)
    try:
        docs = list(read_documents(ctx.tree.read(rel)))
    except YamlError as exc:
        return [Diagnostic(shown, exc.line, exc.col, exc.message, "yaml")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Diagnostic(shown, 1, 1, f"cannot read file: {exc}", "io")]
    problems: list[Diagnostic] = []
    for doc in docs:
        resource, found = _load_document(ctx, doc, rel, shown)
        problems += found
        if resource is not None:
            out.append(resource)
        elif found:
            _mark_broken(ctx, doc)
    return problems


def _mark_broken(ctx: _Context, doc: YamlDocument) -> None:
    """References to a document that failed are not reported again; for an unknown kind, the
    kind it was meant to be (the did-you-mean), else any kind."""
    value = doc.value if isinstance(doc.value, dict) else {}
    name, spec = value.get("name"), value.get("spec")
    if not isinstance(name, str) or not isinstance(spec, dict):
        return
    for kind in _meant_kinds(value.get("kind")):
        parent = spec.get(kind.parent_field) if kind.parent_field else None
        ctx.broken.add((kind.name, f"{parent}/{name}" if isinstance(parent, str) else name))


def _meant_kinds(written: Any) -> list[Kind]:
    if isinstance(written, str) and written in KINDS:
        return [KINDS[written]]
    close = close_match(str(written)[:MAX_ECHO], KINDS)
    return [KINDS[close]] if close else list(KINDS.values())


def _load_document(
    ctx: _Context, doc: YamlDocument, rel: str, shown: str
) -> tuple[DesiredResource | None, list[Diagnostic]]:
    if not isinstance(doc.value, dict):
        message = "a resource document must be a mapping with kind, name and spec"
        return None, [Diagnostic(shown, doc.line, doc.col, message, "schema/type")]
    problems = check_against_schema(doc, (), "resolved/envelope.schema.json", shown, what="kind")
    kind = KINDS.get(doc.value["kind"]) if isinstance(doc.value.get("kind"), str) else None
    if kind is None or not isinstance(doc.value.get("spec"), dict):
        return None, problems
    key = document_address(doc.value)
    if key in ctx.overlays:
        doc.value["spec"] = _merge(doc.value["spec"], ctx.overlays[key][0])
        ctx.used.add(key)
    problems = _name_problems(kind, doc, shown, problems)
    result = Interpolation()
    spec = interpolate(doc.value["spec"], ("spec",), ctx.config.vars, ctx.environ, result)
    ctx.env_values.update(result.env_values)
    for bad_path, message in result.problems:
        line, col = doc.mark(bad_path)
        problems.append(Diagnostic(shown, line, col, message, "interpolation"))
    problems += _env_refused(doc, kind, shown, result)
    problems += _literal_secrets(doc, kind, shown, result)
    hidden = frozenset(result.secret_paths)
    unknown = frozenset(path for path, _ in result.missing)
    unchecked = unknown | {path for path, _ in result.problems}  # no value to check there
    problems += check_against_schema(doc, ("spec",), kind.schema_file, shown, "", spec, hidden,
                                     unchecked)  # fmt: skip
    if problems:  # every problem of the document at once, whatever a variable holds
        return None, sorted(set(problems))
    ctx.missing.extend(MissingVariable(clip(name), shown, *doc.mark(path))
                       for path, name in result.missing)  # fmt: skip
    name = doc.value["name"]
    address = f"{spec[kind.parent_field]}/{name}" if kind.parent_field else name
    written = {k: v for k, v in spec.items() if k != kind.parent_field}
    fields = kind.canonical(written)
    # normalize may move a value from ${env:…} within a list: its secret path follows it
    secrets = follow_moved(written, fields, {tuple(p[1:]) for p in result.secret_paths})
    unknown_fields = follow_moved(written, fields, {tuple(p[1:]) for p in unknown})
    marks = SpecMarks(shown, doc.value_marks)
    attachments: tuple[str, ...] = ()
    value_files: dict[str, str] = {}
    for linked_field in kind.file_fields:  # Model query_file → query
        if linked_field.file_key not in fields:
            continue
        origin = marks[(linked_field.file_key,)]
        text = _linked(ctx, rel, fields.pop(linked_field.file_key), origin, linked_field.noun)
        if isinstance(text, Diagnostic):
            return None, [text]
        fields[linked_field.value_key] = text.text
        attachments += (ctx.tree.display(text.rel),)
        value_files[linked_field.value_key] = ctx.tree.display(text.rel)
    schema_files, problems = _item_files(ctx, rel, kind, fields, marks)
    if problems:
        return None, problems
    attachments += tuple(schema_files)
    _resolve_refs(kind, address, fields)
    resource = DesiredResource(
        kind=kind,
        address=address,
        fields=fields,
        secret_paths=frozenset(secrets),
        protect=bool(doc.value.get("protect", False)),
        origin=Origin(shown, *doc.mark(("name",))),
        marks=marks,
        attachments=attachments,
        value_files=value_files,
        unknown_paths=frozenset(unknown_fields),
    )
    return resource, []


def _name_problems(kind: Kind, doc: YamlDocument, shown: str, found: list[Diagnostic]
                   ) -> list[Diagnostic]:  # fmt: skip
    """``found`` and the kind's own name pattern (stricter than the envelope's, which may have
    failed): said in the kind's words (``Kind.name_hint``) when it has them, in place of the
    envelope's pattern."""
    name = doc.value.get("name")
    line, col = doc.mark(("name",))
    if not isinstance(name, str) or re.fullmatch(kind.name_pattern, name):
        return found
    at_name = [p for p in found if (p.line, p.col) == (line, col)]
    if at_name and not kind.name_hint:
        return found
    if kind.name_hint:
        message = f"name: {clip_repr(name)} {kind.name_hint} ({kind.name})"
    else:
        message = f"name: {clip_repr(name)} does not match {kind.name_pattern} ({kind.name})"
    kept = [p for p in found if p not in at_name]
    return [*kept, Diagnostic(shown, line, col, message, "schema/pattern")]


def _env_refused(doc: YamlDocument, kind: Kind, shown: str, result: Interpolation
                 ) -> list[Diagnostic]:  # fmt: skip
    """Places that take no value from the environment: tracking-plan ``rules`` (stored, listed
    and diffed in clear through their own endpoint), the parent (part of the address, printed
    in clear in every plan) and ``*_file`` paths (read before anything is sent)."""
    out = []
    for path in sorted(result.secret_paths, key=repr):
        field_name = str(path[1]) if len(path) > 1 else ""
        field_spec = kind.field(field_name)
        if path[:1] == ("spec",) and field_spec is not None and field_spec.rule_items:
            message = (f"{field_name} cannot take values from the environment (${{env:…}}); "
                       "write them in the file")  # fmt: skip
        elif field_name == kind.parent_field or field_name.endswith("_file"):
            message = (
                f"{field_name}: the value from the environment (${{env:…}}) cannot be used "
                "here: it names a resource or a file, which must be known without secrets"
            )
        else:
            continue
        line, col = doc.mark(path)
        out.append(Diagnostic(shown, line, col, message, "interpolation"))
    return out


def _literal_secrets(doc: YamlDocument, kind: Kind, shown: str, result: Interpolation
                     ) -> list[Diagnostic]:  # fmt: skip
    """A ``FieldSpec.secret`` field takes its value from the environment only: written in the
    file, the secret would live in git (the value is never echoed)."""
    spec = doc.value["spec"]
    out = []
    for field_spec in kind.fields:
        if not field_spec.secret or field_spec.name not in spec:
            continue
        for leaf in value_leaves(spec[field_spec.name], ("spec", field_spec.name)):
            if any(leaf[: len(p)] == p for p in result.secret_paths):
                continue
            message = (f"{field_spec.name} is a secret: its value must come from the "
                       "environment (${env:NAME}), not be written in the file")  # fmt: skip
            line, col = doc.mark(leaf)
            out.append(Diagnostic(shown, line, col, message, "secret/literal"))
    return out


def _resolve_refs(kind: Kind, address: str, fields: dict[str, Any]) -> None:
    """A reference by name becomes an address: under the same source for nested kinds
    (``model: users`` → ``warehouse/users``), the name itself for top-level ones."""
    source = address.split("/", 1)[0]
    for spec in kind.fields:
        if spec.ref and isinstance(fields.get(spec.name), str):
            nested = KINDS[spec.ref].parent is not None
            fields[spec.name] = f"{source}/{fields[spec.name]}" if nested else fields[spec.name]


def _item_files(ctx: _Context, rel: str, kind: Kind, fields: dict[str, Any], marks: SpecMarks
                ) -> tuple[list[str], list[Diagnostic]]:  # fmt: skip
    """Inline the files items name (``FieldSpec.item_file``: each tracking-plan rule's
    ``json_schema_file``, JSON or YAML, relative to the document)."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    for spec in kind.fields:
        if spec.item_file is None:
            continue
        for index, item in enumerate(fields.get(spec.name) or []):
            if isinstance(item, dict) and spec.item_file.file_key in item:
                where = (spec.name, index, spec.item_file.file_key)
                found = _item_file(ctx, rel, item, spec.item_file, marks[where])
                if isinstance(found, Diagnostic):
                    problems.append(found)
                else:
                    files.append(found)
    return files, problems


def _item_file(ctx: _Context, rel: str, item: dict[str, Any], linked_field: FileField,
               origin: Origin) -> str | Diagnostic:  # fmt: skip
    linked = _linked(ctx, rel, item.pop(linked_field.file_key), origin, linked_field.noun)
    if isinstance(linked, Diagnostic):
        return linked
    try:
        docs = list(read_documents(linked.text))
        if len(docs) != 1 or not isinstance(docs[0].value, dict):
            raise ValueError("it must hold one JSON Schema object")
    except (ValueError, YamlError) as exc:
        reason = exc.message if isinstance(exc, YamlError) else str(exc)
        message = f"cannot read {linked_field.noun} file {clip_repr(linked.rel)}: {reason}"
        return Diagnostic(origin.file, origin.line, origin.col, message, "schema-file")
    item[linked_field.value_key] = docs[0].value
    return ctx.tree.display(linked.rel)


def _linked(ctx: _Context, rel: str, value: str, origin: Origin, what: str
            ) -> LinkedFile | Diagnostic:  # fmt: skip
    """Read a ``*_file`` value of the document ``rel`` through the one guarded helper."""
    try:
        return read_linked_file(ctx.tree, rel, value)
    except LinkedFileError as exc:
        message = f"cannot read {what} file {clip_repr(exc.shown)}: {exc.reason}"
        return Diagnostic(origin.file, origin.line, origin.col, message, f"{what}-file")


def _without_secrets(res: DesiredResource) -> dict[str, Any]:
    """The fields with each secret replaced by REDACTED (the resource is left alone)."""
    return replaced_at(res.fields, res.secret_paths, REDACTED)


def digest_part(r: DesiredResource) -> list[Any]:
    """One resource's item of the digest's list (``rules_cache`` keeps it per resource)."""
    return [r.kind.name, r.address, _without_secrets(r), sorted(map(repr, r.secret_paths)),
            r.protect]  # fmt: skip


def _digest(resources: list[DesiredResource]) -> str:
    """A digest of the resolved YAML without secret values (it is published in plans; the
    session adds the server's keyed digest of the secrets)."""
    blob = [digest_part(r) for r in resources]
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()
