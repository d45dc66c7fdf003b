"""Services behind the workspace commands: load, connect, plan."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seg.commands.console import dbt_tree, load
from seg.engine.diff import compute_plan
from seg.engine.ownership import Ownership
from seg.engine.plan import Change, Plan
from seg.engine.scope import apply_delete_budget, check_targets, restrict, target_plan
from seg.engine.secrets import SecretKey, secret_questions
from seg.errors import ApiError, ConfigError
from seg.model.kinds import Kind
from seg.model.paths import AnyPath, get_path
from seg.model.resource import CurrentResource
from seg.model.urls import redact_url
from seg.policy.models import ModelChangePolicy, stricter
from seg.workspace.config import WorkspaceConfig, read_config
from seg.workspace.loader import Workspace
from seg.workspace.tree import Tree

if TYPE_CHECKING:
    from seg.client.http import ControlPlaneClient
    from seg.client.state_cache import CachedState, StateCache

__all__ = [
    "PlanOptions",
    "Session",
    "connect",
    "connect_config",
    "make_plan",
    "open_control",
    "open_session",
    "read_live",
    "read_live_and_policy",
    "server_policy",
    "ownership_of",
    "require_secrets",
    "sync_embedded_catalog",
]


@dataclass
class Session:
    workspace: Workspace
    client: ControlPlaneClient
    api_url: str
    # the live resources the last computed plan was diffed against (None: none computed, or
    # the kept no-op plan answered)
    live: list[CurrentResource] | None = None


def connect(
    workspace: Workspace, api_url: str | None, token: str | None, env: str | None = None
) -> tuple[ControlPlaneClient, str]:
    """The client for the chosen control plane: --api-url, else $SEG_API_URL, else seg.yaml
    (the embedded one holding the tree's catalog files' entries)."""
    return connect_config(workspace.config, api_url, token, env, sync_catalog=True)


def api_url_of(config: WorkspaceConfig, api_url: str | None) -> str:
    """The control plane chosen: --api-url, else $SEG_API_URL, else seg.yaml's ``api_url``;
    ``embedded`` or an http(s) URL."""
    url = api_url or os.environ.get("SEG_API_URL") or config.api_url
    if url != "embedded" and not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"API URL {redact_url(url)!r} must be 'embedded' or start with http:// or https://"
        )
    return url


def connect_config(
    config: WorkspaceConfig, api_url: str | None, token: str | None, env: str | None = None,
    sync_catalog: bool = False,
) -> tuple[ControlPlaneClient, str]:  # fmt: skip
    """``connect`` from ``seg.yaml``'s settings alone; ``sync_catalog``: an embedded control
    plane first imports the tree's catalog files (``sync_embedded_catalog``)."""
    import httpx  # the network stack loads only for commands that use it

    from seg.client.http import ControlPlaneClient

    url = api_url_of(config, api_url)
    if url == "embedded":
        from seg.embedded import open_embedded  # the server stack loads only when needed

        client = open_embedded(config.root, config.workspace)
        try:
            if sync_catalog:
                sync_embedded_catalog(client, config)
        except BaseException:
            client.close()
            raise
        return client, url
    env = env or config.env
    per_env = f"SEG_TOKEN_{env.upper().replace('-', '_')}" if env else ""
    token = token or (os.environ.get(per_env) if per_env else None) or os.environ.get("SEG_TOKEN")
    if not token:
        hint = f"set {per_env} or SEG_TOKEN" if per_env else "set SEG_TOKEN"
        raise ConfigError(f"no API token for {redact_url(url)}: {hint}, or pass --token")
    http = httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}", "User-Agent": "seg"},
        timeout=httpx.Timeout(60.0, connect=10.0),
    )
    return ControlPlaneClient(http, config.workspace, retry_budget=_retry_budget()), url


def sync_embedded_catalog(client: ControlPlaneClient, config: WorkspaceConfig) -> None:
    """The embedded control plane is the tree's own: it imports the entries of seg.yaml's
    ``catalog:`` files that it does not hold as written (a remote control plane keeps the
    catalog its operator imported). A file that cannot be used fails as in seg validate."""
    if not config.catalog:
        return
    from seg.errors import WorkspaceInvalid
    from seg.workspace.catalog_files import tree_catalog
    from seg.workspace.tree import FsTree

    catalog, problems = tree_catalog(FsTree(config.root), config)
    if problems:
        raise WorkspaceInvalid(problems)
    entries = [e.to_json() for e in catalog.entries() if e.private]
    changed = [e for e in entries if client.get_catalog_entry(e["section"], e["id"]) != e]
    if changed:
        client.import_catalog({"format_version": 1, "entries": changed})


def _retry_budget() -> float:
    """Seconds of retrying one run may spend in all ($SEG_RETRY_BUDGET, default 30)."""
    from seg.client.http import DEFAULT_RETRY_BUDGET

    raw = os.environ.get("SEG_RETRY_BUDGET", "")
    if not raw.strip():
        return DEFAULT_RETRY_BUDGET
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:  # also refuses nan
        raise ConfigError(
            f"SEG_RETRY_BUDGET must be a number of seconds from 0 to 3600, not {raw[:40]!r}"
        )
    return seconds


@contextmanager
def open_session(
    root: Path, env: str | None, api_url: str | None, token: str | None,
    missing_secrets: str = "fail", tree: Tree | None = None,
) -> Iterator[Session]:  # fmt: skip
    """Load the workspace (refusing missing secrets unless ``missing_secrets`` is ``skip``),
    then connect."""
    # ``tree`` (plan, apply) records the working directory's files as they are read: the dbt
    # projects seg.yaml names are read from the working directory too, as seg validate does
    workspace = load(root, env, tree=tree, dbt_opener=dbt_tree)
    require_secrets(workspace, missing_secrets)
    client, url = connect(workspace, api_url, token)
    try:
        yield Session(workspace, client, url)
    finally:
        client.close()


def read_live(
    config: WorkspaceConfig, api_url: str | None, token: str | None, env: str | None = None
) -> list[CurrentResource]:
    """The live workspace of ``seg.yaml``'s control plane, read once (``seg export``,
    ``seg import``, ``seg diff --env``): no resource file, no secret."""
    client, _ = connect_config(config, api_url, token, env)
    try:
        return client.read_state()
    finally:
        client.close()


@contextmanager
def open_control(
    root: Path, env: str | None, api_url: str | None, token: str | None,
    sync_catalog: bool = False,
) -> Iterator[ControlPlaneClient]:  # fmt: skip
    """The control plane of ``seg.yaml`` alone, for commands that only talk to it: no
    resource file is read and no secret is needed (``sync_catalog``: see ``connect_config``)."""
    client, _ = connect_config(read_config(root, env), api_url, token, env, sync_catalog)
    try:
        yield client
    finally:
        client.close()


def require_secrets(workspace: Workspace, missing_secrets: str = "fail") -> None:
    """One line naming every ``${env:…}`` variable that is not set (and where it is first
    used), unless ``missing_secrets`` is ``skip``. ``fail`` is seg plan's default, ``apply``
    the same refusal for seg apply (which has no way around it)."""
    if not workspace.missing or missing_secrets == "skip":
        return
    first: dict[str, str] = {}
    for missing in workspace.missing:
        first.setdefault(missing.name, missing.where)
    names = ", ".join(f"{name} ({_empty(name)}used at {where})"
                      for name, where in sorted(first.items()))  # fmt: skip
    noun = "variable" if len(first) == 1 else "variables"
    them = "it" if len(first) == 1 else "them"
    hint = (f"set {them}, or plan without those values with --missing-secrets=skip"
            if missing_secrets == "fail"
            else f"set {them}: seg apply needs every value")  # fmt: skip
    raise ConfigError(f"environment {noun} not set: {names}; {hint}")


def _empty(name: str) -> str:
    """Said of a variable that is set but empty (which counts as not set)."""
    return "set but empty, " if os.environ.get(name) == "" else ""


@dataclass(frozen=True)
class PlanOptions:
    """How to narrow a plan: targets, a sub-directory scope, a delete budget; and whether
    values whose variable is not set fail the plan or are left out of it."""

    targets: tuple[str, ...] = ()
    scope: str | None = None  # a directory inside the workspace
    max_deletes: int | None = None
    missing_secrets: str = "fail"  # or "skip"
    use_cache: bool = True  # the live state kept between runs (--no-cache, $SEG_NO_CACHE)


def _in_scope(scope: str) -> Callable[[Change], bool]:
    base = Path(scope).resolve()

    def keep(change: Change) -> bool:
        origin = change.desired.origin if change.desired else None
        return origin is not None and Path(origin.file).resolve().is_relative_to(base)

    return keep  # a sub-directory plan never deletes: it cannot know what was declared there


def make_plan(session: Session, options: PlanOptions | None = None) -> Plan:
    """Read the live workspace (a few paginated lists) and diff the YAML against it. With the
    live-state cache, a plan that found nothing to do is kept (``NoopPlans``) and given again,
    after one request, while the YAML, the options and the live revision are all unchanged."""
    options = options or PlanOptions()
    ws = session.workspace
    policy = effective_policy(session)
    cache = state_cache(session, options.use_cache)
    noop = NoopPlans.of(cache, ws, policy, options) if cache is not None else None
    if noop is not None:
        known = noop.still(session.client)
        if known is not None:
            return known
    plan = _computed_plan(session, options, policy, cache)
    if noop is not None and cache is not None and cache.last is not None and not plan.changes:
        noop.keep(cache.last, plan)
    return plan


def _computed_plan(session: Session, options: PlanOptions, policy: ModelChangePolicy,
                   cache: StateCache | None) -> Plan:  # fmt: skip
    ws = session.workspace
    if cache is None:
        current = session.client.read_state()
    else:
        from seg.client.state_cache import read_live_state

        current = read_live_state(session.client, cache)
    _check_external(ws, current)
    session.live = current
    matched, digest = ask_secrets(session, current, cache)
    plan = compute_plan(ws.config.workspace, ws.resources, current, digest, policy, matched,
                        ownership_of(ws))  # fmt: skip
    if ws.missing:
        plan = replace(plan, missing_variables=ws.missing_variables)
    if options.targets:
        addresses = [r.address for r in ws.resources] + [r.address for r in current]
        check_targets(options.targets, addresses)
        plan = target_plan(plan, options.targets)
    if options.scope:
        plan = restrict(plan, _in_scope(options.scope))
    return apply_delete_budget(plan, options.max_deletes)


class NoopPlans:
    """The last plan that found nothing to do, for one control plane, workspace and token
    (``.seg/cache/state/<name>.noop``, sealed by ``seg.localcache``).

    A plan is a pure function of the YAML's resources (``Workspace.digest``, and the values
    from the environment, kept only as an HMAC of them all), seg.yaml's ownership settings,
    the policy, the options and the live state. The live state is the same while the
    workspace's revision, epoch and access digest are (what the live-state cache relies on
    too). So when ``GET …/changes?since=REV`` answers no change at that revision for a key of
    everything else that is the same, the kept plan is the plan. Only a plan without changes
    is kept: it names addresses and paths, never a value."""

    PURPOSE = "no-op plan v1"

    def __init__(self, cache: StateCache, key: bytes) -> None:
        self._cache = cache
        self._key = key

    @classmethod
    def of(cls, cache: StateCache, ws: Workspace, policy: ModelChangePolicy,
           options: PlanOptions) -> NoopPlans | None:  # fmt: skip
        from seg import localcache

        config = ws.config
        inputs = [config.workspace, ws.digest, sorted(ws.secret_values),
                  list(ws.missing_variables), str(policy), config.manager, config.unmanaged,
                  sorted(map(list, config.external)), list(options.targets), options.scope,
                  options.max_deletes, options.missing_secrets]  # fmt: skip
        key = localcache.mac(cls.PURPOSE, json.dumps(inputs).encode("utf-8", "surrogatepass"))
        return cls(cache, key) if key is not None else None

    def still(self, client: ControlPlaneClient) -> Plan | None:
        """The kept plan, if its key is this one and the control plane is at its revision
        (one request); else None."""
        from seg import localcache
        from seg.client.state_cache import FOLDER

        kept = localcache.read_pickled(self._cache.root, self.PURPOSE, FOLDER,
                                       self._cache.name + ".noop")  # fmt: skip
        if not (isinstance(kept, tuple) and len(kept) == 5 and kept[0] == self._key):
            return None
        _, epoch, revision, access, plan = kept
        try:
            head = client.changes(revision)
        except ApiError:
            return None
        same = (head is not None and head.get("epoch") == epoch
                and head.get("access") == access and head.get("revision") == revision
                and head.get("changes") == [])  # fmt: skip
        return plan if same and isinstance(plan, Plan) and not plan.changes else None

    def keep(self, state: CachedState, plan: Plan) -> None:
        from seg import localcache
        from seg.client.state_cache import FOLDER

        payload = pickle.dumps((self._key, state.epoch, state.revision, state.access, plan),
                               protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
        localcache.write(self._cache.root, self.PURPOSE, payload, FOLDER,
                         self._cache.name + ".noop")  # fmt: skip


def state_cache(session: Session, use_cache: bool = True) -> StateCache | None:
    """The live-state cache of this control plane, workspace and token; None when caching is
    off (--no-cache, $SEG_NO_CACHE) or the control plane is the embedded one (its reads are
    in-process, and it lives in the tree the cache would)."""
    from seg.client.state_cache import StateCache, cache_disabled

    if not use_cache or cache_disabled() or session.api_url == "embedded":
        return None
    client = session.client
    token = client.http.headers.get("Authorization", "")
    return StateCache(session.workspace.config.root, str(client.http.base_url),
                      client.workspace, token)  # fmt: skip


def ownership_of(ws: Workspace) -> Ownership:
    config = ws.config
    return Ownership(config.manager, config.unmanaged, config.external)


def _check_external(ws: Workspace, current: list[CurrentResource]) -> None:
    """Every resource seg.yaml lists under ``external`` must exist on the control plane."""
    live = {(r.kind.name, r.address) for r in current}
    missing = sorted(f"{k}/{a}" for k, a in ws.config.external if (k, a) not in live)
    if missing:
        raise ConfigError(
            f"seg.yaml lists as external {', '.join(missing)}, which the control plane of "
            f"workspace {ws.config.workspace} does not hold"
        )


def ask_secrets(
    session: Session, current: list[CurrentResource], cache: StateCache | None = None
) -> tuple[frozenset[SecretKey], str]:
    """Ask the control plane which local secrets equal its sealed ones (one request per 1000;
    none without secrets), and the workspace digest: the YAML's (which holds no secret value)
    combined with the server's keyed digest of the secret values, so a saved plan notices a
    changed secret while the published digest reveals nothing about it."""
    ws = session.workspace
    questions = secret_questions(ws.resources, current)
    if not questions:
        return frozenset(), ws.digest
    items = [(q.kind, q.address, q.path, q.value) for q in questions]
    matches, digests = _compare(session, current, items, cache)
    matched = frozenset(q.key for q, ok in zip(questions, matches, strict=True) if ok)
    combined = hashlib.sha256(":".join([ws.digest, *digests]).encode()).hexdigest()
    return matched, combined


def _compare(session: Session, current: list[CurrentResource],
             items: list[tuple[str, str, AnyPath, Any]], cache: StateCache | None
             ) -> tuple[list[bool], list[str]]:  # fmt: skip
    """``secrets:compare``'s answers: the kept ones when every question (value and live
    digest) is the same as last time (``seg.client.state_cache.SecretAnswers``)."""
    if cache is None:
        return session.client.compare_secrets(items)
    live = {(r.kind.name, r.address): r.fields for r in current}
    asked = [(k, a, p, v, get_path(live.get((k, a), {}), p)) for k, a, p, v in items]
    answers = cache.answers()
    key = answers.key(asked)
    kept = answers.get(key) if key is not None else None
    if kept is not None and len(kept[0]) == len(items):
        return kept
    matches, digests = session.client.compare_secrets(items)
    if key is not None:
        answers.put(key, matches, digests)
    return matches, digests


def server_policy(client: ControlPlaneClient) -> str:
    """The models-in-use policy the control plane holds for the workspace."""
    return str(client.get_workspace().get("model_change_policy", "strict"))


def read_live_and_policy(client: ControlPlaneClient, kinds: list[Kind] | None = None
                         ) -> tuple[list[CurrentResource], str]:  # fmt: skip
    """The live state (of ``kinds``, default all) and the control plane's policy, for the
    checks of models in use; the client is closed after."""
    try:
        return client.read_state(kinds), server_policy(client)
    finally:
        client.close()


def effective_policy(session: Session) -> ModelChangePolicy:
    """The stricter of seg.yaml's model_change_policy and the control plane's (which the
    server enforces anyway), so the plan never promises what apply cannot do."""
    return stricter(session.workspace.config.model_change_policy, server_policy(session.client))
