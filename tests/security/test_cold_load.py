"""The faster YAML builder keeps every refusal (issue 18): a key with a bidi or control
character is refused even after thousands of safe keys were remembered; nesting past
MAX_DEPTH is refused at a scalar value too (the builder's inlined path); an alias bomb is
still cut at MAX_NODES."""

from __future__ import annotations

import pytest

from seg.workspace.yamlpos import MAX_DEPTH, YamlError, read_documents


def test_an_unsafe_key_is_refused_after_many_safe_ones() -> None:
    safe = "".join(f"k{i}: v\n" for i in range(3000))
    list(read_documents(safe))  # remembered as safe
    for key in ("k1\u202e", "k2\u200f", "k3\x07", "k1\u2028x"):
        text = f"{safe}{key!r}: v\n".replace("'", '"')
        with pytest.raises(YamlError, match="control, line-break or bidi"):
            list(read_documents(text))


def test_nesting_past_the_limit_is_refused_at_a_scalar_value() -> None:
    depth = MAX_DEPTH + 1
    text = "".join(f"{'  ' * i}k:\n" for i in range(depth - 1)) + f"{'  ' * (depth - 1)}k: 1\n"
    with pytest.raises(YamlError, match="nests deeper"):
        list(read_documents(text))
    fits = "".join(f"{'  ' * i}k:\n" for i in range(MAX_DEPTH - 1))
    fits += f"{'  ' * (MAX_DEPTH - 1)}k: 1\n"
    (doc,) = read_documents(fits)
    assert doc.mark(("k",) * MAX_DEPTH) == (MAX_DEPTH, 2 * (MAX_DEPTH - 1) + 4)


def test_an_alias_bomb_of_scalar_values_is_cut_at_the_node_limit() -> None:
    text = "a: &a {" + ", ".join(f"k{i}: x" for i in range(100)) + "}\n"
    text += "b: &b {" + ", ".join(f"k{i}: *a" for i in range(100)) + "}\n"
    text += "c: {" + ", ".join(f"k{i}: *b" for i in range(100)) + "}\n"
    with pytest.raises(YamlError, match="expands past"):
        list(read_documents(text))


def test_duplicate_keys_and_merge_keys_are_still_refused() -> None:
    with pytest.raises(YamlError, match="duplicate key 'a'"):
        list(read_documents("a: 1\nb: 2\na: 3\n"))
    with pytest.raises(YamlError, match="merge keys"):
        list(read_documents("x: &x {a: 1}\ny:\n  <<: *x\n"))
