"""Which seg this is: the installed distribution's version only when it describes the code
that runs (seg.about)."""

from __future__ import annotations

import json
import re
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

import seg
from seg.about import FALLBACK_VERSION, PACKAGE_DIR, _describes_this_code, build_version

PEP440 = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9.]+)?")


def _dist(tmp_path: Path, direct_url: str | None) -> PathDistribution:
    info = tmp_path / "site" / "seg-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seg\nVersion: 1.2.3\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(direct_url)
    return PathDistribution(info)


def test_the_version_is_a_pep_440_version_and_seg_dunder_version_is_it() -> None:
    assert PEP440.fullmatch(build_version())
    assert seg.__version__ == build_version()
    with pytest.raises(AttributeError):
        _ = seg.no_such_attribute  # type: ignore[attr-defined]


def test_an_editable_install_of_this_source_tree_describes_it(tmp_path) -> None:
    source = PACKAGE_DIR.parents[1]  # the repository (cli/seg is the package)
    direct = {"url": source.as_uri(), "dir_info": {"editable": True}}
    assert _describes_this_code(_dist(tmp_path, json.dumps(direct)))


@pytest.mark.parametrize("direct_url", [
    json.dumps({"url": "file:///somewhere/else", "dir_info": {"editable": True}}),  # another checkout
    None,  # a regular install elsewhere: its seg/ is not this one
    "not json {",
    "[1, 2]",
    json.dumps({"url": "https://example.invalid/seg", "dir_info": {"editable": True}}),
    json.dumps({"url": 42, "dir_info": "editable"}),
])  # fmt: skip
def test_a_distribution_of_other_code_or_with_a_hostile_record_does_not(tmp_path, direct_url) -> None:
    assert not _describes_this_code(_dist(tmp_path, direct_url))


def test_the_fallback_is_a_valid_version_that_sorts_below_every_release() -> None:
    assert PEP440.fullmatch(FALLBACK_VERSION) and FALLBACK_VERSION.startswith("0+")
