"""`seg fmt` rewrites files, so it must never write outside the workspace: a symlink leading
outside is refused (one error line, the target untouched), a symlinked directory is not
followed, a symlink inside is not written through, a FIFO does not hang it, and a file it
cannot format is left byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SEG = [sys.executable, "-m", "seg"]
UGLY = "spec:\n    description:   \"x\"\nname: a:b\nkind: Label\n"
CANONICAL = "kind: Label\nname: a:b\nspec:\n  description: x\n"


def seg_fmt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*SEG, "fmt", "-w", str(root), *args], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip


def tree(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    return root, outside


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if ": error: " in line]


def test_a_symlink_leading_outside_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    root, outside = tree(tmp_path)
    (outside / "victim.yaml").write_text(UGLY)
    (root / "link.yaml").symlink_to(outside / "victim.yaml")
    (root / "ok.yaml").write_text(UGLY)
    for args in ((), ("--check",)):
        result = seg_fmt(root, *args)
        assert result.returncode == 1
        assert errors(result) == [
            f"{root}/link.yaml:1:1: error: cannot read file: it leads outside the workspace "
            "(through a symlink) [io]"
        ], result.stderr
    assert (outside / "victim.yaml").read_text() == UGLY
    assert (root / "link.yaml").is_symlink()
    assert (root / "ok.yaml").read_text() == CANONICAL  # the rest of the tree is formatted


def test_a_symlinked_directory_is_not_followed(tmp_path: Path) -> None:
    root, outside = tree(tmp_path)
    (outside / "victim.yaml").write_text(UGLY)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    result = seg_fmt(root)
    assert result.returncode == 0, result.stderr
    assert (outside / "victim.yaml").read_text() == UGLY


def test_a_symlink_inside_is_not_written_through(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    (root / "real.yaml").write_text(UGLY)
    (root / "alias.yaml").symlink_to("real.yaml")
    result = seg_fmt(root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"reformatted {root}/real.yaml"
    assert "alias.yaml" not in result.stdout
    assert (root / "alias.yaml").is_symlink() and (root / "real.yaml").read_text() == CANONICAL


def test_a_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    os.mkfifo(root / "pipe.yaml")
    result = seg_fmt(root)
    assert result.returncode == 1
    assert errors(result) == [
        f"{root}/pipe.yaml:1:1: error: cannot read file: it is not a regular file [io]"
    ]


def test_dot_directories_and_other_files_are_never_touched(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    for rel in (".seg/state.yaml", ".github/workflows/plan.yml", "notes.txt", "q.sql"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(UGLY)
    assert seg_fmt(root).returncode == 0
    for rel in (".seg/state.yaml", ".github/workflows/plan.yml", "notes.txt", "q.sql"):
        assert (root / rel).read_text() == UGLY, rel


def test_yaml_seg_refuses_is_left_byte_for_byte(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    hostile = {
        "tags.yaml": "kind: Label\nname: a:b\nspec: !!python/object:os.system {}\n",
        "merge.yaml": "a: &x {k: 1}\nkind: Label\nb:\n  <<: *x\n",
        "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdef", "bcdefg", strict=True)),  # fmt: skip
        "deep.yaml": "a: " + "[" * 200 + "]" * 200 + "\n",
    }
    for name, text in hostile.items():
        (root / name).write_text(text)
    result = seg_fmt(root)
    assert result.returncode == 1
    assert sorted(line.split(":", 1)[0] for line in errors(result)) == sorted(
        f"{root}/{name}" for name in hostile
    ), result.stderr
    for name, text in hostile.items():
        assert (root / name).read_text() == text, name
