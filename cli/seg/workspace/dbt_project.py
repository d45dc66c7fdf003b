"""Reading a dbt project: ``dbt_project.yml``, the models' SQL and YAML under its model paths,
and its manifest when there is one (``seg.policy.dbt`` makes a ``DbtProject`` of them).

A project is read through a ``Tree`` rooted at the project's directory (a directory or a git
revision), so a symlink never leads out of it; every file has a size limit and every YAML file
goes through seg's strict reader. ``dbt_links`` reads the projects ``seg.yaml`` names for
``seg validate`` (a ``DbtLinks`` the kinds' rules look into).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from seg.model.kinds import DbtColumns, DbtLinks
from seg.policy.dbt import DbtModel, DbtProject, build_project, project_settings
from seg.workspace.config import CONFIG_FILE, DbtProjectConfig, WorkspaceConfig
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.tree import FileRefused, FsTree, Tree
from seg.workspace.yamlpos import YamlError, read_documents

__all__ = [
    "DbtProjectError",
    "dbt_directories",
    "DbtTreeOpener",
    "dbt_links",
    "local_dbt_tree",
    "read_dbt_project",
    "read_manifest",
]

MAX_FILE = 1 << 20  # a model's SQL or YAML file, dbt_project.yml
MAX_MANIFEST = 256 << 20  # manifests of large projects reach a hundred MB
PROJECT_FILE = "dbt_project.yml"


class DbtProjectError(Exception):
    """The project cannot be read; the message says why (one line). ``severity`` ("error" or
    "warning") overrides ``dbt_links``' choice (a warning for another repository)."""

    def __init__(self, message: str, severity: str | None = None) -> None:
        super().__init__(message)
        self.severity = severity


# Opens the tree of a project seg.yaml names (raises DbtProjectError). The tree may carry
# ``notes`` (a tuple of one-line warnings on how it was read, e.g. from a cached revision).
DbtTreeOpener = Callable[[WorkspaceConfig, DbtProjectConfig], Tree]


def _yaml(tree: Tree, rel: str) -> object:
    docs = list(read_documents(tree.read(rel, MAX_FILE)))
    return docs[0].value if len(docs) == 1 else None


def read_manifest(text: str) -> object:
    """A manifest's JSON (DbtProjectError if it is not JSON)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DbtProjectError(f"the manifest is not JSON ({str(exc).splitlines()[0]})") from None


def read_dbt_project(
    tree: Tree,
    manifest: str | None = "target/manifest.json",
    manifest_text: str | None = None,
    dialect: str | None = None,
) -> DbtProject:
    """The project at the root of ``tree``: its models from the files under its model paths,
    with compiled SQL from ``manifest_text`` if given, else from the tree's ``manifest`` file
    when it has one. Raises DbtProjectError."""
    try:
        settings = _yaml(tree, PROJECT_FILE)
        _name, paths, _config = project_settings(settings)
    except FileNotFoundError:
        raise DbtProjectError(f"{tree.display(PROJECT_FILE)} does not exist") from None
    except (YamlError, ValueError, OSError, UnicodeDecodeError) as exc:
        raise DbtProjectError(f"{tree.display(PROJECT_FILE)}: {_reason(exc)}") from None
    sql: dict[str, str] = {}
    docs: list[tuple[str, object]] = []
    notes: list[str] = []
    roots = tuple(posixpath.normpath(p) for p in paths)
    for rel in tree.files():
        if not any(rel.startswith(root + "/") for root in roots):
            continue
        try:
            if rel.endswith(".sql"):
                sql[rel] = tree.read(rel, MAX_FILE)
            elif rel.endswith((".yml", ".yaml")):
                docs.append((rel, _yaml(tree, rel)))
        except (YamlError, OSError, UnicodeDecodeError) as exc:
            notes.append(f"{tree.display(rel)} is not read: {_reason(exc)}")
    parsed: object = None
    if manifest_text is not None:
        parsed = read_manifest(manifest_text)
    elif manifest is not None:
        try:
            parsed = read_manifest(tree.read(manifest, MAX_MANIFEST))
        except DbtProjectError as exc:
            raise DbtProjectError(f"{tree.display(manifest)}: {exc}") from None
        except FileNotFoundError:
            parsed = None
        except (OSError, UnicodeDecodeError) as exc:
            notes.append(f"the manifest {manifest} is not read: {_reason(exc)}")
    project = build_project(settings, sql, docs, parsed, dialect)
    return DbtProject(project.name, project.models, project.from_manifest,
                      (*notes, *project.notes), tuple(notes))  # fmt: skip


def _reason(exc: BaseException) -> str:
    if isinstance(exc, YamlError):
        return f"line {exc.line} column {exc.col}: {exc.message}"
    if isinstance(exc, FileRefused):
        return str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _repository_top(root: Path) -> Path:
    """The top of the git repository holding ``root`` (a ``.git`` beside a parent), else
    ``root`` itself."""
    for candidate in (root, *root.parents):
        if (candidate / ".git").exists():
            return candidate
    return root


def local_dbt_tree(config: WorkspaceConfig, project: DbtProjectConfig) -> Tree:
    """The tree of a ``path:`` project: a directory inside the repository holding the
    workspace (inside the workspace when it is not in git). Raises DbtProjectError."""
    if project.path is None:
        raise DbtProjectError(f"dbt project {project.name} is in another repository "
                              f"({project.repository}); it is read only by seg itself")  # fmt: skip
    root = config.root.resolve()
    top = _repository_top(root)
    where = (root / project.path).resolve()
    if not where.is_relative_to(top):
        raise DbtProjectError(f"dbt project {project.name}: {project.path} leads outside "
                              "the repository")  # fmt: skip
    if not where.is_dir():
        raise DbtProjectError(f"dbt project {project.name}: {project.path} is not a directory")
    return FsTree(where)


class _Columns(Mapping[str, DbtColumns]):
    """A project's models' columns for the kinds' rules, worked out only for the models a
    rule looks up (the ones seg's models link to)."""

    def __init__(self, models: Mapping[str, DbtModel]) -> None:
        self._models = models

    def __getitem__(self, name: str) -> DbtColumns:
        model = self._models[name]
        return DbtColumns(model.columns, model.how)

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)


def dbt_directories(config: WorkspaceConfig) -> tuple[str, ...]:
    """The ``path:`` projects that lie inside the workspace, relative to its root: their YAML
    (dbt_project.yml, schema.yml) is dbt's, never seg resource documents."""
    out = []
    for item in config.dbt_projects:
        if item.path is not None:
            rel = posixpath.normpath(item.path)
            if rel not in (".", "..") and not rel.startswith(("../", "/")):
                out.append(rel)
    return tuple(out)


def dbt_links(
    config: WorkspaceConfig, opener: DbtTreeOpener | None = None, shown: str = CONFIG_FILE
) -> tuple[DbtLinks, list[Diagnostic]]:
    """The projects ``seg.yaml`` names, read for the kinds' rules, and one diagnostic at its
    name in ``seg.yaml`` per project that cannot be read (an error for a directory of this
    repository; a warning for another repository, which may be out of reach)."""
    opener = opener or local_dbt_tree
    projects: dict[str, Mapping[str, DbtColumns]] = {}
    unread: set[str] = set()
    problems: list[Diagnostic] = []
    for item in config.dbt_projects:

        def at(message: str, severity: str = "warning", item: DbtProjectConfig = item) -> None:
            problems.append(Diagnostic(shown, item.line, item.col, message, "config/dbt",
                                       severity))  # fmt: skip

        try:
            tree = opener(config, item)
            read = read_dbt_project(tree, item.manifest)
        except DbtProjectError as exc:
            unread.add(item.name)
            at(str(exc), exc.severity or ("warning" if item.repository is not None else "error"))
            continue
        notes = getattr(tree, "notes", ())
        for note in notes if isinstance(notes, tuple) else ():
            at(str(note))
        if read.name != item.name:
            at(f"dbt project {item.name}: its {PROJECT_FILE} names it {read.name!r}; name it "
               "so in seg.yaml (seg check --dbt matches models by that name)", "error")
        for note in read.problems:
            at(f"dbt project {item.name}: {note}")
        projects[item.name] = _Columns(read.models)
    named = tuple(item.name for item in config.dbt_projects)
    return DbtLinks(projects, frozenset(unread), named), problems
