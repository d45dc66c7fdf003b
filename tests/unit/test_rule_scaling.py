"""Workspace-wide rules stay linear (issue 15, "Benchmarks still meet SPEC §8"): a rule that
needs every resource of a kind reads them once per lookup (``seg.kinds.shared.per_lookup``),
not once per subject or once per value it checks: a lookup is one snapshot (the declared
workspace, or one write's transaction on the control plane, where ``every`` pages through
the database)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from seg.kinds import KINDS
from seg.kinds.lookup import IndexLookup
from seg.model.kinds import Subject

CATALOGS = ("amplitude", "braze", "google-ads", "hubspot", "klaviyo", "mixpanel")


class CountingLookup(IndexLookup):
    """An ``IndexLookup`` that counts the resources ``every`` hands out, per kind."""

    def __init__(self, index: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        super().__init__(index)
        self.read: Counter[str] = Counter()

    def every(self, kind_name: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
        for entry in super().every(kind_name):
            self.read[kind_name] += 1
            yield entry


def test_consent_categories_read_the_destinations_once_per_lookup() -> None:
    destinations = {("Destination", f"src-{i:03d}/{catalog}"): {"catalog": catalog}
                    for i in range(100) for catalog in CATALOGS}  # fmt: skip
    # ten categories, each mapping one destination of every type: each names 99 others per type
    categories = {("ConsentCategory", f"Category{k}"):
                  {"destinations": [f"src-{k:03d}/{catalog}" for catalog in CATALOGS]}
                  for k in range(10)}  # fmt: skip
    lookup = CountingLookup({**destinations, **categories})
    kind = KINDS["ConsentCategory"]
    warnings = [
        violation
        for (_kind, address), fields in categories.items()
        for rule in kind.rules
        for violation in rule(Subject(kind, address, fields), lookup)
    ]
    assert len(warnings) == 10 * len(CATALOGS)
    assert all("also maps 99 other destinations of that type" in w.message for w in warnings)
    # once, not once per category and type (that was 60 reads of 600 destinations)
    assert lookup.read["Destination"] == len(destinations)


def test_deleting_a_source_that_cannot_be_a_forwarding_target_reads_no_other_source() -> None:
    """Only server-side sources receive forwarded events: deleting a website source does not
    read every source (a plan deleting N of them would read N² rows on the control plane);
    deleting a server-side source still finds who forwards to it."""
    sources = {("Source", f"web-{i}"): {"catalog": "javascript"} for i in range(50)}
    sources[("Source", "quarantine")] = {"catalog": "http-api"}
    sources[("Source", "shop")] = {"catalog": "javascript", "tracking_plan": "tp",
                                   "schema_settings": {"forwarding_violations_to": "quarantine"}}
    kind = KINDS["Source"]
    lookup = CountingLookup(sources)
    for i in range(50):
        subject = Subject(kind, f"web-{i}", sources[("Source", f"web-{i}")])
        assert [v for rule in kind.delete_rules for v in rule(subject, lookup)] == []
    assert lookup.read["Source"] == 0
    target = Subject(kind, "quarantine", sources[("Source", "quarantine")])
    (refused,) = [v for rule in kind.delete_rules for v in rule(target, lookup)]
    assert refused.rule == "source/forwarded-to" and "forwarded by shop" in refused.message
