"""The built-in catalog data (seg/catalog/data/*.json) and the pure checks of seg.catalog:
reading entries, checking settings and mapping fields, and which settings paths are secret."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from seg.catalog import (
    Catalog,
    CatalogError,
    Entry,
    builtin,
    check_fields,
    check_settings,
    parse_entries,
    secret_setting_paths,
    unknown_entry,
)
from seg.fql.parser import parse
from seg.model.secrets import DIGEST_PREFIX

LISTED = {
    "source": ["javascript", "ios", "android", "python", "node", "http-api", "webhooks",
               "postgres", "snowflake", "bigquery", "redshift", "databricks"],
    "destination": ["amplitude", "mixpanel", "google-analytics-4", "google-analytics", "braze",
                    "hubspot", "salesforce", "intercom", "slack", "webhook", "webhooks",
                    "google-ads", "facebook-conversions-api", "customer-io", "iterable",
                    "segment-connections", "s3"],
    "warehouse": ["snowflake", "bigquery", "redshift", "postgres", "databricks"],
}  # fmt: skip
ACTIONS_DESTINATIONS = ["braze", "salesforce", "hubspot", "intercom", "slack", "webhooks",
                        "google-ads", "facebook-conversions-api", "customer-io", "iterable",
                        "segment-connections", "mixpanel"]  # fmt: skip
# A setting whose name says it holds a credential.
CREDENTIAL = re.compile(r"(api_key|secret|password|token|private_key|credentials|write_key"
                        r"|service_account)")  # fmt: skip
PY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "integer": (int,),
                                         "number": (int, float), "array": (list,),
                                         "object": (dict,)}  # fmt: skip
DIGEST = DIGEST_PREFIX + "ab" * 32


def _all() -> list[Entry]:
    return list(builtin().entries())


def _settings(entry: Entry) -> dict[str, Any]:
    assert entry.settings is not None
    return dict(entry.settings)


# --- the data -----------------------------------------------------------------------------


def test_the_data_files_load_with_the_documented_format() -> None:
    for name in ("sources.json", "destinations.json", "warehouses.json"):
        text = resources.files("seg.catalog").joinpath("data", name).read_text("utf-8")
        document = json.loads(text)
        assert document["format_version"] == 1
        section = {"sources.json": "source", "destinations.json": "destination",
                   "warehouses.json": "warehouse"}[name]  # fmt: skip
        assert {e.section for e in parse_entries(document)} == {section}


def test_the_catalog_holds_at_least_45_entries() -> None:
    assert len(builtin()) >= 45
    assert len(_all()) == len(builtin())


@pytest.mark.parametrize("section", sorted(LISTED))
def test_every_listed_id_is_in_its_section(section: str) -> None:
    ids = builtin().ids(section)
    missing = [i for i in LISTED[section] if i not in ids]
    assert missing == []


def test_every_entry_has_a_settings_schema_a_name_a_category_and_a_one_line_description() -> None:
    for entry in _all():
        assert entry.settings is not None, entry.id
        assert entry.display_name and entry.display_name != entry.id, entry.id
        assert entry.category, entry.id
        assert entry.description and "\n" not in entry.description, entry.id
        assert not entry.private, entry.id


def test_connection_modes_follow_the_kind_of_source() -> None:
    for entry in builtin().entries("source"):
        if entry.category in ("website", "mobile"):
            assert entry.connection_modes == ("cloud", "device"), entry.id
        else:
            assert entry.connection_modes == ("cloud",), entry.id
    assert builtin().get("destination", "amplitude").connection_modes == ("cloud", "device")  # type: ignore[union-attr]


@pytest.mark.parametrize("entry_id", ACTIONS_DESTINATIONS)
def test_actions_destinations_have_actions_with_camel_case_ids(entry_id: str) -> None:
    entry = builtin().get("destination", entry_id)
    assert entry is not None and entry.actions
    for action_id, action in entry.actions.items():
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", action_id), action_id
        assert action.name and action.fields and action.default_trigger, action_id


def test_every_default_trigger_parses_as_fql() -> None:
    triggers = [(e.id, a.id, a.default_trigger) for e in _all() for a in e.actions.values()]
    assert len(triggers) >= 30
    for entry_id, action_id, trigger in triggers:
        assert parse(trigger) is not None, (entry_id, action_id)


def test_every_setting_named_like_a_credential_is_secret() -> None:
    credentials = [
        (e.section, e.id, n) for e in _all() for n in _settings(e) if CREDENTIAL.search(n)
    ]
    assert len(credentials) >= 30
    for section, entry_id, name in credentials:
        setting = builtin().get(section, entry_id).settings[name]  # type: ignore[union-attr,index]
        assert setting.secret, (section, entry_id, name)


def test_a_secret_setting_has_no_default() -> None:
    for entry in _all():
        for name, setting in _settings(entry).items():
            assert not (setting.secret and setting.default is not None), (entry.id, name)


def test_enum_defaults_are_members_of_their_enum_and_enums_have_the_setting_type() -> None:
    enums = [(e.id, s) for e in _all() for s in _settings(e).values() if s.enum is not None]
    assert len(enums) >= 10
    for entry_id, setting in enums:
        assert setting.default is None or setting.default in setting.enum, (entry_id, setting.name)
        for value in setting.enum or ():
            assert isinstance(value, PY_TYPES[setting.type]), (entry_id, setting.name, value)


def test_defaults_have_their_setting_type() -> None:
    for entry in _all():
        for name, setting in _settings(entry).items():
            if setting.default is None:
                continue
            assert isinstance(setting.default, PY_TYPES[setting.type]), (entry.id, name)
            assert not (isinstance(setting.default, bool) and setting.type in ("integer", "number"))


def test_storage_destinations_and_warehouses_are_storage_and_take_no_actions() -> None:
    for entry_id in ("s3", "segment-data-lakes", "google-cloud-storage"):
        entry = builtin().get("destination", entry_id)
        assert entry is not None and entry.storage and not entry.actions, entry_id
    assert not builtin().get("destination", "webhook").storage  # type: ignore[union-attr]
    assert all(e.storage for e in builtin().entries("warehouse"))


def test_required_settings_are_credentials_or_few() -> None:
    """Required is kept for what a destination cannot work without: at most five per entry."""
    for entry in _all():
        required = [n for n, s in _settings(entry).items() if s.required]
        assert len(required) <= 5, (entry.id, required)


def test_the_seed_entries_keep_their_settings_and_actions() -> None:
    amplitude = _settings(builtin().get("destination", "amplitude"))  # type: ignore[arg-type]
    assert {"api_key", "secret_key", "region", "batch_size"} <= set(amplitude)
    assert amplitude["region"].enum == ("us", "eu") and amplitude["region"].default == "us"
    braze = builtin().get("destination", "braze")
    assert braze is not None and {"api_key", "endpoint"} <= set(_settings(braze))
    assert set(braze.actions["updateUserProfile"].fields) == {"external_id", "email", "first_name",
                                                               "last_name"}  # fmt: skip
    assert braze.actions["trackEvent"].fields == {"external_id": False, "name": True,
                                                  "properties": False}  # fmt: skip
    salesforce = builtin().get("destination", "salesforce")
    assert salesforce is not None and salesforce.actions["upsertAccount"].accepts("Tier__c")
    assert salesforce.actions["upsertAccount"].fields == {"Name": True}
    postgres = _settings(builtin().get("source", "postgres"))  # type: ignore[arg-type]
    assert {"host", "port", "database", "user", "password"} <= set(postgres)
    assert postgres["password"].secret
    snowflake = _settings(builtin().get("warehouse", "snowflake"))  # type: ignore[arg-type]
    assert {"account", "database", "warehouse", "user", "password"} <= set(snowflake)
    assert set(_settings(builtin().get("source", "javascript"))) >= {"track_pages", "anonymize_ip"}  # type: ignore[arg-type]


def test_each_entry_round_trips_through_its_json_form() -> None:
    for entry in _all():
        raw = entry.to_json()
        del raw["private"]
        (again,) = parse_entries({"format_version": 1, "entries": [raw]})
        assert again == entry, entry.id


# --- check_settings -------------------------------------------------------------------------

AMPLITUDE = builtin().get("destination", "amplitude")
assert AMPLITUDE is not None


def test_an_unknown_setting_key_is_named_with_a_suggestion() -> None:
    problems = check_settings(AMPLITUDE, {"api_key": "k", "api_kye": "k2"})  # type: ignore[arg-type]
    assert problems == [(("api_kye",), "unknown setting 'api_kye' for destination 'amplitude' "
                         "(did you mean 'api_key'?)", "catalog/setting")]  # fmt: skip


def test_an_unknown_key_far_from_every_setting_has_no_suggestion() -> None:
    ((path, message, rule),) = check_settings(AMPLITUDE, {"api_key": "k", "zzzzzz": 1})  # type: ignore[arg-type]
    assert path == ("zzzzzz",) and "did you mean" not in message and rule == "catalog/setting"


@pytest.mark.parametrize(("key", "value", "kind"), [
    ("batch_size", "100", "integer"), ("batch_size", True, "integer"), ("batch_size", 1.5, "integer"),
    ("region", 3, "string"), ("track_all_pages", "yes", "boolean"), ("api_key", ["k"], "string"),
])  # fmt: skip
def test_a_value_of_the_wrong_type_is_refused(key: str, value: Any, kind: str) -> None:
    settings = {"api_key": "k", key: value}
    ((path, message, rule),) = check_settings(AMPLITUDE, settings)  # type: ignore[arg-type]
    assert path == (key,) and rule == "catalog/type"
    article = "an" if kind[0] in "aeiou" else "a"
    assert f"setting {key!r} of destination 'amplitude' is {article} {kind}, not {value!r}" == message


def test_a_number_setting_takes_integers_and_floats_but_not_booleans() -> None:
    (entry,) = parse_entries({"entries": [{"id": "n", "section": "destination",
                                           "settings": {"rate": {"type": "number"}}}]})  # fmt: skip
    assert check_settings(entry, {"rate": 1}) == check_settings(entry, {"rate": 0.5}) == []
    assert [p[2] for p in check_settings(entry, {"rate": False})] == ["catalog/type"]


def test_a_value_outside_the_enum_is_refused_with_the_choices() -> None:
    ((path, message, rule),) = check_settings(AMPLITUDE, {"api_key": "k", "region": "apac"})  # type: ignore[arg-type]
    assert (path, rule) == (("region",), "catalog/enum")
    assert message == "setting 'region' of destination 'amplitude' is one of 'us', 'eu', not 'apac'"


def test_a_secret_value_is_never_echoed_in_a_message() -> None:
    problems = check_settings(AMPLITUDE, {"api_key": 12345}, secret=[("api_key",)])  # type: ignore[arg-type]
    ((_, message, _),) = problems
    assert "12345" not in message and "the value from the environment" in message


def test_missing_required_settings_fail_only_an_enabled_resource() -> None:
    (problem,) = check_settings(AMPLITUDE, {"region": "eu"})  # type: ignore[arg-type]
    assert problem == (("api_key",), "destination 'amplitude' requires the setting 'api_key' "
                       "to be enabled", "catalog/required")  # fmt: skip
    assert check_settings(AMPLITUDE, {"region": "eu"}, enabled=False) == []  # type: ignore[arg-type]


def test_a_required_setting_with_a_default_need_not_be_given() -> None:
    (entry,) = parse_entries(
        {
            "entries": [
                {
                    "id": "d",
                    "section": "destination",
                    "settings": {
                        "mode": {
                            "type": "string",
                            "required": True,
                            "default": "a",
                            "enum": ["a", "b"],
                        }
                    },
                }
            ]
        }
    )
    assert check_settings(entry, {}) == []


def test_digests_and_unknown_values_are_not_judged() -> None:
    assert check_settings(AMPLITUDE, {"api_key": DIGEST, "batch_size": DIGEST}) == []  # type: ignore[arg-type]
    settings = {"api_key": "k", "batch_size": "${var}", "region": "${var}"}
    assert check_settings(AMPLITUDE, settings, unknown=[("batch_size",), ("region",)]) == []  # type: ignore[arg-type]
    assert len(check_settings(AMPLITUDE, settings, unknown=[("region",)])) == 1  # type: ignore[arg-type]


def test_an_entry_without_a_schema_accepts_any_settings() -> None:
    (entry,) = parse_entries({"entries": [{"id": "free", "section": "source", "settings": None}]})
    assert entry.settings is None
    assert check_settings(entry, {"anything": [1, {"x": True}], "api_key": 3}) == []


def test_several_problems_are_all_reported() -> None:
    problems = check_settings(AMPLITUDE, {"regoin": "eu", "batch_size": "x"})  # type: ignore[arg-type]
    assert sorted(p[2] for p in problems) == ["catalog/required", "catalog/setting", "catalog/type"]


# --- check_fields ---------------------------------------------------------------------------

BRAZE = builtin().get("destination", "braze")
SALESFORCE = builtin().get("destination", "salesforce")
assert BRAZE is not None and SALESFORCE is not None


def test_an_unknown_action_is_named_with_a_suggestion() -> None:
    assert check_fields(BRAZE, "trackEvnt", {"name": "x"}) == [  # type: ignore[arg-type]
        (("action",), "destination 'braze' has no action 'trackEvnt' (did you mean 'trackEvent'?)",
         "catalog/action")]  # fmt: skip


def test_an_unknown_field_is_named_with_a_suggestion_and_a_missing_required_field_too() -> None:
    problems = check_fields(BRAZE, "trackEvent", {"nmae": "x"})  # type: ignore[arg-type]
    assert problems == [
        (("fields", "nmae"), "action 'trackEvent' of 'braze' has no field 'nmae' "
         "(did you mean 'name'?)", "catalog/field"),
        (("fields",), "action 'trackEvent' of 'braze' requires the field 'name'", "catalog/field"),
    ]  # fmt: skip
    assert check_fields(BRAZE, "trackEvent", {"name": "x", "external_id": "y"}) == []  # type: ignore[arg-type]


def test_custom_fields_pass_when_the_action_accepts_them() -> None:
    assert check_fields(SALESFORCE, "upsertAccount", {"Name": "n", "Tier__c": "gold"}) == []  # type: ignore[arg-type]
    ((path, _, _),) = check_fields(SALESFORCE, "upsertAccount", {"Name": "n", "Tier": "gold"})  # type: ignore[arg-type]
    assert path == ("fields", "Tier")
    assert check_fields(BRAZE, "trackEvent", {"name": "x", "Tier__c": 1}) != []  # type: ignore[arg-type]


def test_a_destination_without_actions_takes_any_action() -> None:
    assert check_fields(AMPLITUDE, "whatever", {"x": 1}) == []  # type: ignore[arg-type]


# --- secret_setting_paths -------------------------------------------------------------------


def _private(settings: dict[str, Any] | None) -> Entry:
    (entry,) = parse_entries({"entries": [{"id": "p", "section": "destination",
                                           "settings": settings}]}, private=True)  # fmt: skip
    return entry


def test_schema_secrets_are_secret_at_every_leaf_and_other_settings_are_not() -> None:
    entry = _private({"hosts": {"type": "array", "secret": True}, "login": {"type": "object",
                      "secret": True}, "name": {"type": "string"}})  # fmt: skip
    settings = {"hosts": ["a", {"b": "c", "d": None}], "login": {"user": "u", "pass": "p"},
                "name": "n"}  # fmt: skip
    assert secret_setting_paths(entry, settings) == {
        ("hosts", 0),
        ("hosts", 1, "b"),
        ("login", "user"),
        ("login", "pass"),
    }


def test_a_schema_overrides_the_key_name_guess() -> None:
    """A known, non-secret setting named like a credential is not secret; a secret one whose
    name says nothing is."""
    entry = _private({"api_key_hint": {"type": "string"}, "endpoint": {"type": "string",
                      "secret": True}})  # fmt: skip
    assert secret_setting_paths(entry, {"api_key_hint": "x", "endpoint": "e"}) == {("endpoint",)}
    entry = _private({"token": {"type": "string"}})
    assert secret_setting_paths(entry, {"token": "x"}) == set()
    assert secret_setting_paths(None, {"token": "x"}) == {("token",)}


def test_the_key_name_guess_applies_without_a_schema_and_to_unknown_keys() -> None:
    settings = {"api_key": "k", "nested": {"password": "p", "user": "u"}, "plain": "x",
                "list": [{"token": "t"}]}  # fmt: skip
    guessed = {("api_key",), ("nested", "password"), ("list", 0, "token")}
    assert secret_setting_paths(None, settings) == guessed
    assert secret_setting_paths(_private(None), settings) == guessed
    # known keys follow the schema, unknown ones the guess
    assert secret_setting_paths(
        AMPLITUDE, {"secret_key": "s", "region": "us", "other_password": "p"}
    ) == {  # fmt: skip
        ("secret_key",),
        ("other_password",),
    }


def test_builtin_secrets_are_found_by_the_schema() -> None:
    entry = builtin().get("destination", "facebook-conversions-api")
    assert secret_setting_paths(entry, {"pixel_id": "1", "token": "t"}) == {("token",)}
    webhook = builtin().get("destination", "webhook")
    assert secret_setting_paths(webhook, {"url": "u", "shared_secret": "s",
                                          "headers": {"X-Team": "a"}}) == {("shared_secret",)}  # fmt: skip


def test_settings_that_are_not_a_map_have_no_secret_paths() -> None:
    assert secret_setting_paths(AMPLITUDE, ["api_key"]) == set()
    assert secret_setting_paths(None, None) == set()


# --- parse_entries rejects malformed files --------------------------------------------------

GOOD: dict[str, Any] = {"id": "acme-crm", "section": "destination", "display_name": "Acme CRM",
                        "settings": {"api_key": {"type": "string", "secret": True}},
                        "actions": {"upsert": {"fields": {"email": {"required": True}}}}}  # fmt: skip


def _with(**changes: Any) -> dict[str, Any]:
    entry = json.loads(json.dumps(GOOD))
    entry.update(changes)
    return {"format_version": 1, "entries": [entry]}


def test_a_good_private_entry_parses() -> None:
    (entry,) = parse_entries(_with(), private=True)
    assert entry.private and entry.settings is not None and entry.settings["api_key"].secret
    assert entry.actions["upsert"].fields == {"email": True}
    assert entry.actions["upsert"].name == "upsert"


@pytest.mark.parametrize(("document", "where"), [
    ([], "catalog: a catalog file holds one object"),
    ({"format_version": 2, "entries": []}, "format_version: must be 1"),
    ({"format_version": 1}, "entries: a list of at most"),
    ({"entries": {"a": 1}}, "entries: a list"),
    ({"entries": ["x"]}, "entries[0]: an entry is an object"),
    ({"entries": [{**GOOD, "colour": "red"}]}, "entries[0]: unknown key 'colour'"),
    (_with(id="Acme CRM"), "entries[0].id: a catalog id"),
    (_with(id=7), "entries[0].id: a catalog id"),
    (_with(section="widget"), "entries[0] (acme-crm).section: one of source, destination"),
    (_with(settings=[]), "entries[0] (acme-crm).settings: an object of at most 200"),
    (_with(settings={"k": "string"}), "entries[0] (acme-crm).settings.k: a setting is an object"),
    (_with(settings={"k": {"type": "date"}}), "entries[0] (acme-crm).settings.k.type: one of"),
    (_with(settings={"k": {"secret": "yes"}}), "entries[0] (acme-crm).settings.k.secret: a boolean"),
    (_with(settings={"k": {"required": 1}}), "entries[0] (acme-crm).settings.k.required: a boolean"),
    (_with(settings={"k": {"enum": []}}), "entries[0] (acme-crm).settings.k.enum: a non-empty list"),
    (_with(settings={"k": {"label": 3}}), "entries[0] (acme-crm).settings.k.label: a string"),
    (_with(settings={"k": {"hidden": True}}), "entries[0] (acme-crm).settings.k: unknown key 'hidden'"),
    (_with(connection_modes=["edge"]), "entries[0] (acme-crm).connection_modes: a list of cloud"),
    (_with(connection_modes=[]), "entries[0] (acme-crm).connection_modes: a list of cloud"),
    (_with(actions=[]), "entries[0] (acme-crm).actions: an object"),
    (_with(actions={"up sert": {}}), "entries[0] (acme-crm).actions: an action id is a name"),
    (_with(actions={"upsert": []}), "entries[0] (acme-crm).actions.upsert: an action is an object"),
    (_with(actions={"upsert": {"fields": []}}), "entries[0] (acme-crm).actions.upsert.fields: an object"),
    (_with(actions={"upsert": {"fields": {"e": {"required": "no"}}}}),
     "entries[0] (acme-crm).actions.upsert.fields.e: an object with a boolean 'required'"),
    (_with(actions={"upsert": {"default_trigger": 1}}),
     "entries[0] (acme-crm).actions.upsert.default_trigger: a string"),
    (_with(actions={"upsert": {"custom_fields": "(["}}),
     "entries[0] (acme-crm).actions.upsert.custom_fields: not a regular expression"),
    (_with(section="source"), "entries[0] (acme-crm).actions: only destinations have actions"),
    (_with(display_name=["A"]), "entries[0] (acme-crm).display_name: a string"),
    (_with(storage="yes"), "entries[0] (acme-crm).storage: a boolean"),
    ({"entries": [GOOD, GOOD]}, "entries: destination 'acme-crm' appears twice"),
])  # fmt: skip
def test_a_malformed_catalog_is_refused_naming_where(document: Any, where: str) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_entries(document)
    assert str(caught.value).startswith(where), str(caught.value)


def test_the_same_id_in_two_sections_is_two_entries() -> None:
    source = {**GOOD, "section": "source", "actions": {}}
    entries = parse_entries({"entries": [GOOD, source]})
    assert [(e.section, e.id) for e in entries] == [
        ("destination", "acme-crm"),
        ("source", "acme-crm"),
    ]


def test_a_catalog_adds_private_entries_and_suggests_close_ids() -> None:
    catalog: Catalog = builtin().with_entries(parse_entries(_with(), private=True))
    assert catalog.get("destination", "acme-crm") is not None
    assert catalog.get("destination", "amplitude") is not None
    assert len(catalog) == len(builtin()) + 1
    message = unknown_entry("destination", "amplitud", catalog)
    assert message.startswith(
        "unknown destination catalog id 'amplitud' (did you mean 'amplitude'?)"
    )
    assert "did you mean" not in unknown_entry("source", "qqqqqqqq", catalog)
