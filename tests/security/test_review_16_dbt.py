"""An attacker's review of issue 16 (dbt-linked models, ``seg check --dbt``): each test is a
hole found in review and fails without its fix.

- A pull request of the dbt repository cannot vouch for itself: a manifest it commits is not
  the head's, and a manifest compiled from other SQL than the files (a stale
  ``target/manifest.json``, a ``--head-manifest`` of another revision) is not used for them.
- A second file defining an in-use model's name (dbt accepts it when one is disabled) and a
  model switched off with ``enabled: false`` do not slip through under ``breaking``.
- A link moves only when the model is not in use, also by leaving ``dbt_project`` out.
- A dbt file name reaches GitHub annotations and the markdown summary as text, never as
  workflow-command properties, links, images or HTML.
- The control plane words a "give exactly one of" failure as ``seg validate`` does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from seg.ci import dbt_repo
from seg.ci.check import CheckResult, Finding
from seg.commands.app import app
from seg.model.resource import Origin
from seg.policy.dbt import build_project, judge_dbt_change
from seg.policy.models import MappingUse, ModelChangePolicy
from seg.render.check_view import check_markdown, github_annotations
from tests.conftest import Api, run_cli
from tests.dbt_linked import Linked
from tests.dbt_remote import make_remote, make_workspace
from tests.dbt_repo import MART, DbtRepo
from tests.dbt_tool import DBT_EXAMPLE
from tests.helpers import error

BREAKING = ModelChangePolicy.BREAKING
USES = [MappingUse("wh/braze/sync", ("user_id", "email"))]
# The mart without its macro: seg reads its columns from the SQL, no manifest needed.
READABLE = """\
select
    u.user_id,
    u.email,
    u.plan
from {{ ref('stg_users') }} as u
"""
WITHOUT_EMAIL = READABLE.replace("    u.email,\n", "")


@pytest.fixture
def env(check_env: None) -> None:
    """The check's environment (tests/conftest.py)."""


def readable_repo(top: Path) -> DbtRepo:
    """The example with a mart seg can read without a manifest, as the base (main), applied."""
    repo = DbtRepo(top)
    (repo.path / MART).write_text(READABLE)
    repo.commit("a mart without macros")
    repo.git.git.branch("-f", "main", "HEAD")
    repo.apply_live()
    repo.server_policy("breaking")  # the control plane's default is strict
    return repo


def manifest(sql: str, compiled: str, path: str = MART) -> str:
    """A manifest of one model ``users`` compiled from ``sql``."""
    node = {"resource_type": "model", "package_name": "analytics", "name": "users",
            "original_file_path": path, "raw_code": sql.strip(), "compiled_code": compiled}  # fmt: skip
    return json.dumps({"nodes": {"model.analytics.users": node}})


def validate(root: Path) -> tuple[int, str]:
    result = run_cli("validate", "-w", str(root))
    return result.exit_code, result.output


def summary(result) -> str:
    return " ".join(result.output.split())


# --- a pull request vouching for itself ------------------------------------------------------


def test_a_manifest_the_pull_request_commits_is_not_the_heads(tmp_path: Path, env) -> None:
    repo = DbtRepo(tmp_path / "repo")
    repo.apply_live()
    repo.server_policy("breaking")
    repo.edit(MART, "    u.email,\n", "")
    # the author commits a manifest whose "compiled SQL" still returns email
    (repo.path / "target").mkdir()
    (repo.path / "target/manifest.json").write_text(manifest(
        (repo.path / MART).read_text(), "select 1 as user_id, 'e' as email, 'p' as plan"))
    repo.git.git.add("-f", "target/manifest.json")
    repo.commit("drop email, and a manifest saying it is still there")
    result = repo.check()
    assert result.exit_code == 3, result.output
    assert "output columns cannot be read from its SQL, so seg fails closed" in summary(result)


def test_a_head_manifest_of_other_sql_is_not_used(tmp_path: Path, env) -> None:
    repo = readable_repo(tmp_path / "repo")
    stale = tmp_path / "stale.json"  # compiled before the change: email is still there
    stale.write_text(manifest(READABLE, "select 1 as user_id, 'e' as email, 'p' as plan"))
    (repo.path / MART).write_text(WITHOUT_EMAIL.replace("u.plan", "u.plan, {{ var('x') }}"))
    repo.commit("drop email")
    result = repo.check("--head-manifest", str(stale))
    assert result.exit_code == 3, result.output
    text = summary(result)
    assert "note: head: the manifest was not compiled from the file (models/marts/users.sql)" \
        in text, text
    assert "output columns cannot be read from its SQL, so seg fails closed" in text


def test_the_working_trees_manifest_may_not_lead_out_of_the_project(tmp_path: Path,
                                                                    env) -> None:  # fmt: skip
    repo = readable_repo(tmp_path / "repo")
    outside = tmp_path / "outside.json"
    outside.write_text(manifest(READABLE, "select 1 as user_id, 'e' as email"))
    (repo.path / "target").mkdir()
    os.symlink(outside, repo.path / "target/manifest.json")
    result = repo.check()
    assert result.exit_code == 1, result.output
    assert "target/manifest.json: it leads outside the project" in summary(result)


def test_a_manifest_compiled_from_the_heads_files_is_used(tmp_path: Path, env) -> None:
    repo = readable_repo(tmp_path / "repo")
    (repo.path / MART).write_text(READABLE.replace("u.plan", "u.plan, u.created_at"))
    repo.commit("add a column")
    fresh = tmp_path / "fresh.json"
    fresh.write_text(manifest((repo.path / MART).read_text(),
                              "select 1 as user_id, 'e' as email, 'p' as plan, 2 as created_at"))
    result = repo.check("--head-manifest", str(fresh))
    assert result.exit_code == 0, result.output
    assert "columns from the compiled SQL in the manifest" in summary(result)


# --- a second definition, a disabled model ----------------------------------------------------


def test_a_disabled_second_file_of_the_same_name_is_no_decoy(tmp_path: Path, env) -> None:
    repo = readable_repo(tmp_path / "repo")
    (repo.path / MART).write_text(WITHOUT_EMAIL)
    # sorts before models/marts/: without the fix seg read this file as the model
    decoy = repo.path / "models/aaa/users.sql"
    decoy.parent.mkdir()
    decoy.write_text("{{ config(enabled=false) }}\n" + READABLE)
    repo.commit("drop email, and a disabled copy that still has it")
    result = repo.check()
    assert result.exit_code == 3, result.output
    text = summary(result)
    assert "several files define it (models/aaa/users.sql, models/marts/users.sql)" in text


def test_disabling_a_model_in_use_is_blocked_under_breaking(tmp_path: Path, env) -> None:
    repo = readable_repo(tmp_path / "repo")
    repo.edit("dbt_project.yml", "      +materialized: table\n",
              "      +materialized: table\n      +enabled: false\n")
    repo.commit("switch the marts off")
    result = repo.check()
    assert result.exit_code == 3, result.output
    assert ("model warehouse/users (dbt model users) is in use by "
            "warehouse/braze/users-to-braze: the dbt model is disabled (enabled: false)"
            ) in summary(result)  # fmt: skip


@pytest.mark.parametrize(("config", "expected"), [
    ("{{ config(enabled=false) }}", "the dbt model is disabled"),
    ("{{ config(materialized='table', enabled = False) }}", "the dbt model is disabled"),
    ("{{ config(enabled=var('on')) }}", "seg cannot tell whether dbt still builds it"),
])  # fmt: skip
def test_enabled_in_the_sql_decides_over_yaml(config: str, expected: str) -> None:
    settings = {"name": "p"}
    base = build_project(settings, {"models/users.sql": "select user_id, email from t"}, [])
    docs = [("models/s.yml", {"models": [{"name": "users", "config": {"enabled": True}}]})]
    head = build_project(settings, {"models/users.sql": f"{config}\nselect user_id, email, x "
                                                       "from t"}, docs)  # fmt: skip
    verdict = judge_dbt_change(BREAKING, "wh/users", "user_id", base.models["users"],
                               head.models["users"], USES)  # fmt: skip
    assert verdict.blocked and expected in verdict.message, verdict


def test_a_manifest_picks_the_enabled_file_of_two() -> None:
    files = {"models/a/users.sql": "{{ config(enabled=false) }} select 1 as old",
             "models/b/users.sql": "select user_id, email from t"}  # fmt: skip
    node = {"resource_type": "model", "package_name": "p", "name": "users",
            "original_file_path": "models/b/users.sql", "raw_code": files["models/b/users.sql"],
            "compiled_code": "select user_id, email from t"}  # fmt: skip
    users = build_project({"name": "p"}, files, [], {"nodes": {"m": node}}).models["users"]
    assert users.path == "models/b/users.sql" and users.columns == ("user_id", "email")
    alone = build_project({"name": "p"}, files, []).models["users"]
    assert alone.columns is None and alone.how.startswith("several files define it")


# --- relinking through the control plane ------------------------------------------------------


@pytest.fixture(params=["strict", "breaking"])
def linked(request: pytest.FixtureRequest, api: Api) -> Linked:
    return Linked(api, request.param)


def test_a_model_in_use_cannot_leave_its_project_out_then_name_another(linked: Linked) -> None:
    message = error(linked.patch(clear=("dbt_project",)), 409, 9)
    assert message == ("model wh/users is in use by wh/braze/sync: it would read dbt model "
                       "users instead of dbt model users of project analytics")  # fmt: skip
    linked.enable_mapping(False)
    assert linked.patch(clear=("dbt_project",)).status_code == 200
    linked.enable_mapping(True)
    # a project left out is seg.yaml's only one, which the control plane cannot see
    moved = error(linked.patch(dbt_project="evil"), 409, 9)
    assert "it would read dbt model users of project evil instead of dbt model users" in moved
    assert "dbt_project" not in linked.live()


def test_query_and_dbt_model_together_are_worded_as_validate_words_them(linked: Linked) -> None:
    message = error(linked.patch(query="SELECT 1 AS user_id"), 400, 3)
    assert message == ("model: give exactly one of query, query_file or dbt_model (dbt_project "
                       "goes with dbt_model)")  # fmt: skip


def test_validate_gives_the_same_words(write_workspace) -> None:
    root = write_workspace({"models.yaml": """\
        kind: Model
        name: users
        spec:
          source: wh
          query: SELECT 1 AS user_id
          dbt_model: users
          identifier_column: user_id
        """})  # fmt: skip
    result = CliRunner().invoke(app, ["validate", "-w", str(root)])
    assert result.exit_code == 1, result.output
    assert ("models.yaml:4:3: error: spec: give exactly one of query, query_file or dbt_model "
            "(dbt_project goes with dbt_model)") in result.output


# --- dbt file names in GitHub annotations and the step summary ---------------------------------

EVIL = "a,line=99,title=x::y`![i](https://evil.example/p.png)|<img src=x>[l](https://e.x)"


def evil_result() -> CheckResult:
    finding = Finding(EVIL, "modified", True, f"model m is in use: renamed to {EVIL}",
                      ("wh/braze/sync",), Origin(f"models/{EVIL}.sql", 1, 1),
                      noun="dbt model")  # fmt: skip
    return CheckResult("breaking", (finding,), (f"note on {EVIL}",), "dbt model")


def test_a_file_name_adds_no_annotation_property() -> None:
    annotations = github_annotations(evil_result()).splitlines()
    error_line = next(line for line in annotations if line.startswith("::error "))
    properties, _, _message = error_line[len("::error "):].partition("::")
    keys = [item.split("=", 1)[0] for item in properties.split(",")]
    assert keys == ["file", "line", "title"], properties
    assert "a%2Cline=99%2Ctitle=x%3A%3Ay" in properties


def _tokens(markdown: str):
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        yield token
        yield from token.children or ()


def test_a_file_name_is_no_link_image_html_or_extra_cell_in_the_summary() -> None:
    markdown = check_markdown(evil_result())
    kinds = {t.type for t in _tokens(markdown)}
    assert not kinds & {"image", "link_open", "html_inline", "html_block"}, markdown
    cells = [t for t in _tokens(markdown) if t.type in ("td_open", "th_open")]
    assert len(cells) == 10, markdown  # the header's five and the finding's five
    spans = [t.content for t in _tokens(markdown) if t.type == "code_inline"]
    assert EVIL in spans and f"models/{EVIL}.sql:1:1" in spans, spans


# --- a poisoned cache of a dbt repository ------------------------------------------------------


def test_a_cache_config_seg_did_not_write_is_refused_before_git_runs(
    tmp_path: Path, allow_file_repositories: None
) -> None:
    """A pull request of the seg repository can commit ``.seg/dbt/<digest>/``: git would run
    the ``uploadpack`` (or ``core.sshCommand``, ``credential.helper``) its config names on the
    next fetch, with whatever token the job holds."""
    remote = make_remote(tmp_path / "dbt")
    root = make_workspace(tmp_path / "ws", remote.url, "main")
    assert validate(root)[0] == 0  # the cache is made and fetched into
    cache = dbt_repo.cache_dir(root.resolve(), remote.url)
    pwned = tmp_path / "pwned"
    with (cache / "config").open("a") as config:
        config.write(f'[remote "{remote.url}"]\n\tuploadpack = touch {pwned}; git-upload-pack\n')
    code, output = validate(root)
    assert not pwned.exists()
    assert code == 1, output
    assert (f"error: dbt project analytics: the copy of {remote.url} in "
            f".seg/dbt/{cache.name} was not made by seg: its config holds settings seg does "
            f"not write (git would act on them); remove .seg/dbt/{cache.name}") in " ".join(
        output.split()), output  # fmt: skip


# --- the workflow template -------------------------------------------------------------------


def test_the_dbt_workflow_runs_on_every_pull_request() -> None:
    """A paths filter lets a pull request that moves the models (``model-paths`` in
    dbt_project.yml) or touches a file the filter forgot skip the check."""
    import yaml

    workflow = yaml.safe_load((DBT_EXAMPLE / ".github/workflows/seg-check.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request"}, triggers
    assert not (triggers["pull_request"] or {}).get("paths"), triggers
    assert not (triggers["pull_request"] or {}).get("paths-ignore"), triggers


def test_renaming_the_dbt_project_does_not_unlink_its_models(tmp_path: Path, env) -> None:
    repo = readable_repo(tmp_path / "repo")
    repo.edit("dbt_project.yml", "name: analytics\n", "name: renamed\n")
    repo.edit("dbt_project.yml", "  analytics:\n", "  renamed:\n")
    (repo.path / MART).write_text(WITHOUT_EMAIL)
    repo.commit("rename the project, and drop email")
    result = repo.check()
    assert result.exit_code == 3, result.output
    text = summary(result)
    assert "warehouse/braze/users-to-braze maps email, which it no longer returns" in text
    assert "note: the dbt project is renamed from analytics to renamed" in text


def test_a_file_repository_is_refused_unless_allowed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A pull request's seg.yaml naming a repository elsewhere on the machine (file://) would
    have seg read it and quote its model names (a did-you-mean): refused, nothing cloned,
    unless the operator allows file:// repositories."""
    monkeypatch.delenv("SEG_DBT_FILE_REPOSITORIES", raising=False)
    remote = make_remote(tmp_path / "elsewhere")
    root = make_workspace(tmp_path / "ws", remote.url, "main")
    (root / "resources.yaml").write_text((root / "resources.yaml").read_text().replace(
        "dbt_model: users", "dbt_model: user"))  # fmt: skip
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    assert "file:// repositories are read only where SEG_DBT_FILE_REPOSITORIES=allow" in result.output
    assert "did you mean" not in result.output and "Traceback" not in result.output
    assert not (root / ".seg" / "dbt").exists() or not any((root / ".seg" / "dbt").iterdir())
    monkeypatch.setenv("SEG_DBT_FILE_REPOSITORIES", "allow")
    allowed = run_cli("validate", "-w", str(root))
    assert "did you mean 'users'?" in allowed.output, allowed.output
