"""A saved plan file or a plan JSON, rendered as the pull-request comment would show it: the
markdown ``seg plan -o markdown`` writes (``render_plan_markdown``), turned into HTML the way
GitHub does — markdown with its few HTML tags, then a safelist sanitizer (nh3), since the
text comes from whoever pasted it."""

from __future__ import annotations

import json
import re
from typing import Any

import nh3
from markdown_it import MarkdownIt

from seg.engine.plan import Plan
from seg.model.printable import CONTROLS
from seg.model.values import json_strings
from seg.render.plan_json import plan_from_json
from seg.render.plan_markdown import render_plan_markdown

__all__ = ["MAX_PLAN_BYTES", "PlanInputError", "plan_html", "read_plan"]

MAX_PLAN_BYTES = 4 << 20  # the server's default body limit
MAX_STRING = 10_000  # a value seg would print (longer: not a plan seg wrote)
MAX_DEPTH = 64  # nesting of a plan's values
MAX_MARKDOWN = 120_000  # the comment's markdown is at most 60,000 characters (MAX_CHARS)
# What seg writes in the plan's own words (its heading, summary and "not managed" line): a
# pasted plan holding anything else there is refused, so it cannot carry markup into them.
_WORD = re.compile(r"^[A-Za-z0-9_.:@/+=-]{0,300}$")
SAVED_PLAN = "seg-saved-plan"
# What the comment uses (details/summary folds, code, tables, the emphasis of its notes)
_TAGS = {"details", "summary", "code", "pre", "i", "em", "strong", "b", "p", "ul", "ol", "li",
         "table", "thead", "tbody", "tr", "th", "td", "h3", "h4", "br", "hr", "blockquote",
         "sub"}
_ATTRIBUTES = {"details": {"open"}, "code": {"class"}}


class PlanInputError(ValueError):
    """Text that is not a plan seg wrote; its message is one line for the page."""


def read_plan(text: str) -> Plan:
    """The plan in ``text``: a saved plan file (``seg plan --out``) or the JSON of
    ``seg plan -o json``."""
    if len(text.encode()) > MAX_PLAN_BYTES:
        raise PlanInputError(f"the plan is larger than {MAX_PLAN_BYTES >> 20} MiB")
    try:
        data = json.loads(text)
    except RecursionError:
        raise PlanInputError("the plan nests too deeply") from None
    except ValueError as exc:
        raise PlanInputError(f"not JSON: {exc}") from None
    if isinstance(data, dict) and data.get("type") == SAVED_PLAN:
        data = data.get("plan")
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanInputError("not a plan: paste a file of seg plan --out, or the output of "
                             "seg plan -o json")  # fmt: skip
    if data["format_version"] != Plan.FORMAT_VERSION:
        raise PlanInputError(f"a plan in format {str(data['format_version'])[:20]!r}; this seg "
                             f"reads format {Plan.FORMAT_VERSION}")  # fmt: skip
    strings, depth = json_strings(data)
    if depth > MAX_DEPTH:
        raise PlanInputError(f"the plan nests deeper than {MAX_DEPTH} levels")
    if any(len(s) > MAX_STRING for s in strings):
        raise PlanInputError(f"the plan holds a value longer than {MAX_STRING} characters")
    if any(CONTROLS.search(s) for s in strings):
        raise PlanInputError("the plan holds control characters; not showing it")
    words: list[Any] = [data.get("workspace"), data.get("manager") or ""]
    for key in ("targets", "missing_variables"):
        listed = data.get(key) or []
        words += listed if isinstance(listed, list) else [None]
    if not all(isinstance(w, str) and _WORD.fullmatch(w) for w in words):
        raise PlanInputError("the plan's workspace, manager, targets or variables are not "
                             "names seg writes")  # fmt: skip
    try:
        return plan_from_json(data)
    except _UNREADABLE as exc:
        raise PlanInputError(f"not a readable plan: {type(exc).__name__}") from None


_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)


def plan_html(plan: Plan) -> tuple[str, str]:
    """The comment's markdown, and its HTML (sanitized)."""
    try:
        markdown = render_plan_markdown(plan)
    except _UNREADABLE as exc:  # a forged shape the reader let through
        raise PlanInputError(f"not a readable plan: {type(exc).__name__}") from None
    if len(markdown) > MAX_MARKDOWN:
        raise PlanInputError("the plan's comment is longer than a comment seg writes")
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    safe = nh3.clean(rendered, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=set(),
                     link_rel=None, strip_comments=True)  # fmt: skip
    return markdown, safe
