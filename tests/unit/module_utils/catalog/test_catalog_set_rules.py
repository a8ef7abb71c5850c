"""The set rules of the one filter path (``select_update_ids``): supersedence decided within the
selection, Microsoft's optional previews, title and KB exclusions, and unknown product or
classification names answered with the closest names the catalog knows."""

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    UpdateFilter,
    closest_category_names,
    select_update_ids,
    unknown_category_messages,
    validate_filter,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    UpdateSetError,
    all_updates,
    parse_update_sets,
    resolve,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests import set_catalog
from tests.catalog_gen.store import sync_file

EVERYTHING = set(set_catalog.UPDATES_BY_KEY)
PREVIEWS = {"pv10", "pv11", "pvde", "rollup"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request, tmp_path_factory):
    """The small catalog in a store of each backend (the rules are SQL both must agree on)."""
    folder = tmp_path_factory.mktemp("set_rules")
    source = set_catalog.write(str(folder / "catalog.json"))
    if request.param == "sqlite":
        address = str(folder / "store.db")
    else:
        server = request.getfixturevalue("postgres_server")
        address = server.new_database("sets")
    opened = open_store(address)
    sync_file(opened, source, languages=("en", "de"))
    yield opened
    opened.close()
    if request.param == "postgresql":
        server.drop_database(address)


def keys(store, **criteria):
    found, unknown = select_update_ids(store, validate_filter(UpdateFilter(**criteria)))
    assert unknown == []
    return {set_catalog.ID_TO_KEY[update_id] for update_id in found}


SECURITY = {"classifications": ("Security Updates",)}


@pytest.mark.parametrize("criteria, expected", [
    # the case: November's Critical CU is superseded only by November's optional preview,
    # which a security set does not select, so it stays; October's CU is superseded by November's
    pytest.param(dict(SECURITY, superseded=False), {"cu11", "net11", "ws19", "severe"}, id="security-set-keeps-its-newest-cu"),
    pytest.param(dict(SECURITY, superseded=True), {"cu10"}, id="security-set-superseded-is-what-a-member-replaces"),
    pytest.param(dict(SECURITY, products=("Microsoft Server operating system-21H2",), severities=("Critical",),
                      superseded=False), {"cu11"}, id="critical-ws2022"),
    # with previews in the set, the preview is a member and does supersede the CU
    pytest.param(dict(previews=True, superseded=False), EVERYTHING - {"cu10", "pv10", "cu11"},
                 id="previews-in-the-set-supersede"),
    pytest.param(dict(superseded=False), EVERYTHING - PREVIEWS - {"cu10"}, id="default-set-without-previews"),
    # a set naming the newest CU alone: nothing else in the set supersedes it
    pytest.param(dict(kbs=("KB5044281",), superseded=False), {"cu10"}, id="one-kb-is-never-superseded-within-itself"),
    pytest.param(dict(kbs=("KB5044281", "KB5046616"), superseded=False), {"cu11"}, id="two-kbs-newer-wins"),
])
def test_superseded_is_decided_within_the_set(store, criteria, expected):
    assert keys(store, **criteria) == expected


@pytest.mark.parametrize("criteria, expected", [
    pytest.param({}, EVERYTHING - PREVIEWS, id="not-set-leaves-previews-out"),
    pytest.param({"previews": False}, EVERYTHING - PREVIEWS, id="false"),
    pytest.param({"previews": True}, EVERYTHING, id="true-keeps-them"),
    pytest.param({"classifications": ("Updates",)}, {"insider"}, id="updates-classification-without-previews"),
    pytest.param({"classifications": ("Updates",), "previews": True}, PREVIEWS | {"insider"}, id="updates-with-previews"),
    # named by KB or id, a preview is selected unless previews is false
    pytest.param({"kbs": ("KB5046617",)}, {"pv11"}, id="named-by-kb"),
    pytest.param({"update_ids": (set_catalog.UPDATES_BY_KEY["pv10"][0],)}, {"pv10"}, id="named-by-id"),
    pytest.param({"kbs": ("KB5046617",), "previews": False}, set(), id="named-but-false"),
    # an MSRC severity means a security release, whatever the title says
    pytest.param({"products": ("Windows Server 2019",)}, {"ws19", "severe"}, id="severity-is-never-a-preview"),
])
def test_previews(store, criteria, expected):
    assert keys(store, **criteria) == expected


@pytest.mark.parametrize("criteria, removed", [
    pytest.param({"exclude_titles": ("*.NET Framework*",)}, {"net11"}, id="title-wildcard"),
    pytest.param({"exclude_titles": ("OUT-OF-BAND",)}, {"oob11"}, id="title-substring-any-case"),
    pytest.param({"exclude_titles": ("2026-1? Cumulative Update for Microsoft*",)}, {"cu10", "cu11"},
                 id="title-question-mark"),
    pytest.param({"exclude_titles": ("*insider*", "*Windows Server 2019*")}, {"insider", "ws19", "severe"},
                 id="several-titles"),
    pytest.param({"exclude_kbs": ("KB5046616",)}, {"cu11"}, id="kb-exact"),
    pytest.param({"exclude_kbs": ("5046616",)}, {"cu11"}, id="kb-without-prefix"),
    pytest.param({"exclude_kbs": ("kb504661?",)}, {"cu11", "ws19"}, id="kb-question-mark"),
    pytest.param({"exclude_kbs": ("KB5046*",)}, {"cu11", "ws19", "net11", "severe"}, id="kb-star"),
    pytest.param({"exclude_kbs": ("504661",)}, set(), id="kb-pattern-matches-the-whole-number"),
])
def test_exclusions(store, criteria, removed):
    assert keys(store, **criteria) == EVERYTHING - PREVIEWS - removed


def test_excluded_updates_do_not_supersede(store):
    # the November CU excluded by KB: October's CU is then superseded by no member of the set
    assert keys(store, exclude_kbs=("KB5046616",), superseded=False, **SECURITY) == {"cu10", "net11", "ws19", "severe"}


def test_exclusions_match_titles_in_any_kept_language(store):
    assert "pv11" not in keys(store, previews=True, exclude_titles=("*Kumulatives Update (Vorschau)*",))
    assert "pvde" not in keys(store, previews=True, exclude_titles=("*vorschau*",))


@pytest.mark.parametrize("value", ["KBx", "50466.16", "", "KB"])
def test_bad_kb_patterns_are_named(value):
    with pytest.raises(ValueError, match="exclude_kbs"):
        validate_filter(UpdateFilter(exclude_kbs=(value,)))


def test_an_empty_title_pattern_is_refused():
    with pytest.raises(ValueError, match="exclude_titles"):
        validate_filter(UpdateFilter(exclude_titles=(" ",)))


@pytest.mark.parametrize("option, name, closest", [
    ("products", "Windows Server 2022", "Microsoft Server operating system-21H2"),  # its description names it
    ("products", "windows server 2019 ", "Windows Server 2019"),
    ("products", "Windows Server 2016", "Windows Server 2019"),
    ("products", "Microsoft Server operating system 21H2", "Microsoft Server operating system-21H2"),
    ("classifications", "Security Update", "Security Updates"),
    ("classifications", "critical", "Critical Updates"),
])
def test_unknown_names_come_with_the_closest_known_ones(store, option, name, closest):
    update_filter = validate_filter(UpdateFilter(**{option: (name,)}))
    found, unknown = select_update_ids(store, update_filter)
    if name.strip().lower() == closest.lower():  # a title matches whatever its case and spaces
        assert unknown == [] and found
        return
    assert found == [] and unknown == [name]
    messages = unknown_category_messages(store, update_filter)
    noun = "product" if option == "products" else "classification"
    assert len(messages) == 1 and messages[0].startswith("unknown product or classification %r (a %s name; closest "
                                                         "in the catalog: " % (name, noun))
    assert repr(closest) in messages[0]
    types = ("Product", "ProductFamily") if option == "products" else ("UpdateClassification",)
    assert closest_category_names(store, name, types)[0] == closest


def test_suggestions_stay_within_the_option_and_say_when_nothing_is_close(store):
    assert "Security Updates" not in closest_category_names(store, "Security Updates", ("Product",))
    messages = unknown_category_messages(store, validate_filter(UpdateFilter(products=("zzzz",),
                                                                             classifications=("Updates",))))
    assert messages == ["unknown product or classification 'zzzz' (a product name; nothing in the catalog is close; "
                        "catalog_info with kinds: [category] lists the names)"]


def test_update_sets_fail_with_the_same_message(store):
    (named,) = parse_update_sets([{"name": "ws2022", "products": ["Windows Server 2022"],
                                   "classifications": ["Security Updates"]}])
    with pytest.raises(UpdateSetError) as raised:
        resolve(store, named)
    expected = unknown_category_messages(store, named.update_filter)
    assert str(raised.value) == "update set 'ws2022': " + expected[0]
    assert "'Microsoft Server operating system-21H2'" in str(raised.value)


def test_update_sets_take_the_new_keys(store):
    (named,) = parse_update_sets([{"name": "security", "classifications": "Security Updates", "superseded": False,
                                   "exclude_titles": "*.NET*", "exclude_kbs": ["KB5046615"]}])
    assert {set_catalog.ID_TO_KEY[i] for i in resolve(store, named)} == {"cu11", "severe"}
    assert {set_catalog.ID_TO_KEY[i] for i in resolve(store, all_updates())} == EVERYTHING - PREVIEWS
    (with_previews,) = parse_update_sets([{"name": "optional", "previews": True, "classifications": ["Updates"]}])
    assert {set_catalog.ID_TO_KEY[i] for i in resolve(store, with_previews)} == PREVIEWS | {"insider"}


@pytest.mark.parametrize("entry, message", [
    ({"name": "a", "previews": "no"}, "previews: 'no' is not true or false"),
    ({"name": "a", "exclude_kbs": ["KB12x"]}, "exclude_kbs: 'KB12x' is not a KB number"),
    ({"name": "a", "exclude_title": ["x"]}, "unknown key"),
])
def test_bad_set_values_name_the_set(entry, message):
    with pytest.raises(UpdateSetError, match="update set 'a': .*" + message):
        parse_update_sets([entry])


@pytest.mark.parametrize("superseded, limit, expected", [
    (True, 1, ["cu10"]),   # the newest security updates are not superseded: the limit comes after the rule
    (False, 2, ["severe", "net11"]),  # same day: by title
    (None, 1, ["severe"]),
])
def test_limit_applies_after_the_supersedence_rule(store, superseded, limit, expected):
    update_filter = validate_filter(UpdateFilter(classifications=("Security Updates",), superseded=superseded))
    found, _unknown = select_update_ids(store, update_filter, limit=limit)
    assert [set_catalog.ID_TO_KEY[update_id] for update_id in found] == expected
