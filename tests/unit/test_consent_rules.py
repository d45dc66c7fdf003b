"""The ConsentCategory kind's rules as pure functions (issue 15, item 3): the category id, the
every-instance and storage warnings, the workspace bound, the Destination's delete rule (which
names only the categories the caller may read), and the words and file names it needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seg.kinds import KINDS
from seg.kinds.consent_category import CATEGORY_PATTERN, MAX_CATEGORIES
from seg.kinds.lookup import IndexLookup
from seg.model.kinds import Code, Subject, Violation
from seg.model.resource import CurrentResource
from seg.model.wording import plural
from seg.workspace.export import render_export

Fields = dict[str, Any]
NAME = "ConsentCategory"
DESTINATIONS = {
    ("Destination", "shop/amplitude"): {"catalog": "amplitude"},
    ("Destination", "app/amplitude"): {"catalog": "amplitude"},
    ("Destination", "web/amp"): {"catalog": "amplitude"},
    ("Destination", "shop/braze"): {"catalog": "braze"},
    ("Destination", "shop/s3"): {"catalog": "s3"},
    ("Destination", "shop/hook"): {"function": "to-crm"},
    ("Destination", "app/hook"): {"function": "to-crm"},
}


def run(address: str, fields: Fields, others: Mapping[tuple[str, str], Fields] = DESTINATIONS,
        ) -> list[Violation]:  # fmt: skip
    kind = KINDS[NAME]
    index = {**others, (NAME, address): fields}
    subject = Subject(kind, address, fields)
    return [v for rule in kind.rules for v in rule(subject, IndexLookup(index))]


def test_the_category_id_is_case_sensitive_starts_with_a_letter_and_is_under_35() -> None:
    ok = ["Advertising", "advertising", "C0001", "Data_Sharing", "ad-tech", "A" * 34]
    bad = ["1Ads", "_ads", "-ads", "A" * 35, "Ads.x", "Ads/x", "", "Ads ", "Ad\u0455", "Ads\n"]
    assert all(re.fullmatch(CATEGORY_PATTERN, n) for n in ok)
    assert not any(re.fullmatch(CATEGORY_PATTERN, n) for n in bad)
    hint = KINDS[NAME].name_hint
    assert "start with a letter" in hint and "fewer than 35" in hint and "case-sensitive" in hint


def test_a_mapping_names_the_other_instances_of_its_type_as_a_warning() -> None:
    (found,) = run("Analytics", {"destinations": ["shop/amplitude"]})
    assert found.warning and found.rule == "consent/every-instance"
    assert found.path == ("destinations", "0")
    assert "also maps 2 other destinations of that type (app/amplitude, web/amp)" in found.message
    # listing every instance says it all: no warning
    every = ["web/amp", "shop/amplitude", "app/amplitude"]
    assert run("Analytics", {"destinations": every}) == []
    # one instance left out is named, once per type, at the first listed instance of it
    (found,) = run("Analytics", {"destinations": ["shop/braze", "web/amp", "shop/amplitude"]})
    assert found.path == ("destinations", "1") and "1 other destination of" in found.message
    assert "(app/amplitude)" in found.message
    # function destinations: instances of one function are one type
    (found,) = run("Analytics", {"destinations": ["shop/hook"]})
    assert "app/hook" in found.message and "function:to-crm" in found.message


def test_a_storage_destination_does_not_enforce_consent_a_warning() -> None:
    (found,) = run("Analytics", {"destinations": ["shop/braze", "shop/s3"]})
    assert found.warning and found.rule == "consent/not-enforced"
    assert found.path == ("destinations", "1")
    assert found.message == ("shop/s3 (Amazon S3) is a storage destination: storage destinations "
                             "do not enforce consent, it receives every event")  # fmt: skip


def test_missing_destinations_are_left_to_the_reference_check() -> None:
    assert run("Analytics", {"destinations": ["shop/gone"]}) == []
    refs = KINDS[NAME].references({"destinations": ["shop/gone", "app/x"]})
    assert refs == [("Destination", "shop/gone", ("destinations",)),
                    ("Destination", "app/x", ("destinations",))]  # fmt: skip


def test_a_workspace_holds_at_most_50_categories() -> None:
    others: dict[tuple[str, str], Fields] = {
        (NAME, f"C{i}"): {"destinations": []} for i in range(MAX_CATEGORIES - 1)
    }
    assert run("Last", {"destinations": []}, others) == []
    others[(NAME, "Extra")] = {"destinations": []}
    (found,) = run("Last", {"destinations": []}, others)
    assert found.code is Code.FAILED_PRECONDITION and found.rule == "consent/limit"
    assert found.message == "a workspace has at most 50 consent categories; it would have 51"


def test_a_mapped_destination_cannot_be_deleted_and_only_readable_categories_are_named() -> None:
    kind = KINDS["Destination"]
    index = {(NAME, "Advertising"): {"destinations": ["shop/braze", "shop/ads"]},
             (NAME, "Functional"): {"destinations": ["shop/braze"]},
             (NAME, "Secret"): {"destinations": ["shop/braze"]},
             (NAME, "Other"): {"destinations": ["shop/amplitude"]}}  # fmt: skip

    def delete(address: str, visible: Any = lambda _k, _a: True) -> list[Violation]:
        subject = Subject(kind, address, {}, {}, visible=visible)
        return [v for rule in kind.delete_rules for v in rule(subject, IndexLookup(index))]

    (found,) = delete("shop/braze")
    assert found.code is Code.FAILED_PRECONDITION and found.rule == "destination/consent-mapped"
    assert found.message == (
        "destination shop/braze is mapped by consent categories Advertising, Functional, "
        "Secret; remove it from their destinations before deleting it"
    )
    (found,) = delete("shop/braze", lambda k, a: a != "Secret")
    assert "Advertising, Functional, 1 consent category you may not read;" in found.message
    assert delete("shop/google-ads") == []


def test_counted_nouns_ending_in_a_consonant_and_y() -> None:
    assert plural(2, "consent category") == "2 consent categories"
    assert plural(1, "consent category") == "1 consent category"
    assert plural(2, "key") == "2 keys" and plural(2, "ConsentCategory") == "2 ConsentCategories"
    assert plural(2, "property", "props") == "2 props"


def _current(name: str) -> CurrentResource:
    return CurrentResource(KINDS[NAME], name, {"display_name": name, "destinations": [],
                                               "enabled": True})  # fmt: skip


def test_export_file_names_do_not_collide_on_case_insensitive_file_systems() -> None:
    names = ["Advertising", "advertising", "ADVERTISING", "Analytics"]
    export = render_export("acme", [_current(n) for n in names])
    files = [f for f in export.files if f.startswith("consent-categories/")]
    assert len(files) == 4 and len({f.casefold() for f in files}) == 4
    assert "consent-categories/Analytics.yaml" in files  # no collision: the plain name
    for name in names[:3]:
        (rel,) = [f for f in files if f"name: {name}\n" in export.files[f]]
        assert re.fullmatch(rf"consent-categories/{name}\.[0-9a-f]{{8}}\.yaml", rel)
    # stable: the same names give the same files, whatever else is exported
    again = render_export("acme", [_current(n) for n in reversed(names)])
    assert set(again.files) == set(export.files)


def test_plans_list_first_where_a_category_starts_dropping_events() -> None:
    notices = KINDS[NAME].notices
    assert notices is not None
    on = {"display_name": "A", "destinations": ["shop/braze", "shop/ads"], "enabled": True}
    (line,) = notices(None, on)
    assert line == "events that do not consent to this category stop reaching shop/ads, shop/braze"
    assert notices(None, {**on, "enabled": False}) == []  # created disabled: nothing enforced
    assert notices(on, {"destinations": ["shop/braze", "shop/ads"]}) == []
    assert notices(on, {"destinations": ["shop/braze", "shop/x"]}) == [
        "events that do not consent to this category stop reaching shop/x"
    ]
    off = {**on, "enabled": False}
    assert notices(off, {"enabled": True}) == [  # undeclared destinations stay as they are
        "events that do not consent to this category stop reaching shop/ads, shop/braze"
    ]
    assert notices(off, {"enabled": True, "destinations": ["shop/braze"]}) == [
        "events that do not consent to this category stop reaching shop/braze"
    ]
    assert notices(off, {"destinations": ["shop/braze", "shop/y"]}) == []  # still disabled
    assert notices(on, None) == [] and notices(on, {"enabled": False}) == []
    many = {"destinations": [f"shop/d{i:02d}" for i in range(12)]}
    (line,) = notices(None, many)
    assert line.endswith("shop/d09 and 2 more")


def test_the_control_plane_does_not_run_the_rules_that_only_warn() -> None:
    """The every-instance and storage rules only warn (every violation they give is a
    warning), so they are marked and the control plane, which refuses on errors only, skips
    them: the every-instance rule reads every destination of the workspace, which at 55,000
    destinations made each category write take seconds inside the workspace's lock."""
    from seg.model.kinds import only_warns
    from seg.server.rules import raise_first

    kind = KINDS[NAME]
    marked = [rule for rule in kind.rules if only_warns(rule)]
    assert [rule.__name__ for rule in marked] == ["_every_instance", "_storage"]
    found = run("Analytics", {"destinations": ["shop/amplitude", "shop/s3"]})
    assert {v.rule for v in found} == {"consent/every-instance", "consent/not-enforced"}
    assert all(v.warning for v in found)

    class Counting(IndexLookup):
        every_calls: list[str] = []

        def every(self, kind_name: str) -> Any:
            self.every_calls.append(kind_name)
            return super().every(kind_name)

    index = {**DESTINATIONS, (NAME, "Analytics"): {"destinations": ["shop/amplitude"]}}
    lookup = Counting(index)
    raise_first(kind.rules, Subject(kind, "Analytics", index[(NAME, "Analytics")]), lookup)
    assert "Destination" not in lookup.every_calls  # the category count alone
