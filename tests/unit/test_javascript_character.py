"""seg's stand-in for ``esprima.character`` (which classifies every code point at import,
about a second and 100 MB per process) answers exactly as esprima's own tables, on every
Unicode code point."""

from __future__ import annotations

import importlib.util
import sys

from seg.policy.javascript import _character_module, read_javascript


def _esprima_tables() -> object:
    """esprima's own character module, loaded on its own (not through seg)."""
    spec = importlib.util.find_spec("esprima")
    assert spec is not None and spec.submodule_search_locations
    path = f"{list(spec.submodule_search_locations)[0]}/character.py"
    own = importlib.util.spec_from_file_location("esprima._character_original", path)
    assert own is not None and own.loader is not None
    module = importlib.util.module_from_spec(own)
    read_javascript("x")  # esprima itself is loaded (with seg's tables)
    own.loader.exec_module(module)
    return module


def test_the_light_tables_agree_with_esprimas_on_every_code_point() -> None:
    original = _esprima_tables().Character  # type: ignore[attr-defined]
    light = _character_module().Character  # type: ignore[attr-defined]
    names = ("isWhiteSpace", "isLineTerminator", "isIdentifierStart", "isIdentifierPart",
             "isDecimalDigit", "isHexDigit", "isOctalDigit")  # fmt: skip
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        for name in names:
            assert getattr(light, name)(ch) == getattr(original, name)(ch), (name, hex(code))


def test_the_parser_runs_on_the_light_tables() -> None:
    assert "esprima.character" in sys.modules or read_javascript("x") is not None
    facts = read_javascript("async function onTrack(évènement) {\n  return évènement\n}\n")
    assert facts.error is None and facts.handlers == frozenset({"onTrack"})
    bad = read_javascript("function onTrack(e) {\n  return e +\n}\n")
    assert bad.error is not None and bad.error.line == 3
