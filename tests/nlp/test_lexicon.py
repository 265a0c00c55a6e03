"""The lexicon loads, is complete for the reference's substances, and rejects bad entries by name."""

from __future__ import annotations

import datetime as dt

import pytest

from precursor_watch.nlp.lexicon import DEFAULT_LEXICON, LexiconError, cas_check_digit_ok, load_lexicon, parse_lexicon

GOOD_ENTRY = """
version = "t1"
[[substance]]
id = "79099-07-3"
name = "tert-Butyl 4-oxopiperidine-1-carboxylate"
category = "fentanyl_precursor"
tier = "monitored"
names.en = ["1-Boc-4-piperidone"]
control = [{ jurisdiction = "UN", status = "Table I", effective = 2024-12-03, source = "CND 67/7" }]
"""


@pytest.fixture(scope="module")
def lex():
    return load_lexicon()


def test_every_cas_in_the_lexicon_passes_its_check_digit(lex):
    assert len(lex.cas) > 40
    assert all(cas_check_digit_ok(c) for c in lex.cas)


def test_check_digit_function():
    assert cas_check_digit_ok("1609-66-1")
    assert not cas_check_digit_ok("1609-66-5")  # the public OSINT list's typo
    assert not cas_check_digit_ok("79099073")  # not hyphenated: not a CAS RN string


@pytest.mark.parametrize("salt,base", [
    ("40064-34-4", "41661-47-6"),  # 4-piperidone HCl monohydrate
    ("41979-39-9", "41661-47-6"),
    ("99918-43-1", "23056-29-3"),  # 4-AP dihydrochloride
    ("990-73-8", "437-38-7"),  # fentanyl citrate
    ("23076-35-9", "7361-61-7"),  # xylazine HCl
])
def test_salts_and_hydrates_map_to_the_free_base(lex, salt, base):
    assert lex.cas[salt][0] == base


def test_reference_substances_present_with_three_languages(lex):
    for sid in ("39742-60-4", "21409-26-7", "23056-29-3", "125541-22-2", "1609-66-1", "41661-47-6",
                "79099-07-3", "437-38-7", "7361-61-7", "14188-81-9"):
        s = lex.substances[sid]
        assert s.tier == "monitored"
        assert s.names.get("zh") and s.names.get("es"), sid
    for sid in ("62-53-3", "79-03-8", "103-63-9", "3612-20-2"):
        assert lex.substances[sid].tier == "watched"


def test_controls_are_effective_dated(lex):
    pip = lex.substances["41661-47-6"]
    assert {c.jurisdiction for c in pip.controls_at(dt.date(2023, 6, 1))} == {"US"}
    assert {c.jurisdiction for c in pip.controls_at(dt.date(2025, 12, 1))} == {"UN", "US", "EU"}
    assert pip.controls_at(dt.date(2020, 1, 1)) == []


def test_a_good_minimal_file_parses():
    lex = parse_lexicon(GOOD_ENTRY, "mini.toml")
    assert lex.version == "t1" and "1boc4piperidone" in lex.terms


@pytest.mark.parametrize("old,new,message", [
    ('id = "79099-07-3"', 'id = "79099-07-4"', "CAS RN 79099-07-4 fails its check digit"),
    ('category = "fentanyl_precursor"', 'category = "precursorish"', "unknown category 'precursorish'"),
    ('tier = "monitored"', 'tier = "sometimes"', "unknown tier 'sometimes'"),
    ('jurisdiction = "UN"', 'jurisdiction = "XX"', "unknown jurisdiction 'XX'"),
    ("effective = 2024-12-03", 'effective = "soon"', "effective must be a date"),
    ("names.en =", "names.fr =", "unknown language 'fr'"),
    ('name = "tert', 'colour = "white"\nname = "tert', "unknown field 'colour'"),
])
def test_bad_entries_name_the_file_and_the_entry(old, new, message):
    with pytest.raises(LexiconError) as err:
        parse_lexicon(GOOD_ENTRY.replace(old, new), "bad.toml")
    text = str(err.value)
    assert text.startswith("bad.toml: substance #1 (")
    assert message in text


def test_bad_salt_check_digit_is_named():
    bad = GOOD_ENTRY + 'salts = [{ cas = "40064-34-5", form = "HCl hydrate" }]\n'
    with pytest.raises(LexiconError, match=r"bad.toml: substance #1 \(79099-07-3\): salt CAS RN 40064-34-5 fails"):
        parse_lexicon(bad, "bad.toml")


def test_a_form_claimed_by_two_substances_is_an_error():
    two = GOOD_ENTRY + GOOD_ENTRY.split('version = "t1"')[1].replace("79099-07-3", "41661-47-6")
    with pytest.raises(LexiconError, match="already names 79099-07-3"):
        parse_lexicon(two, "dup.toml")


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(LexiconError, match="nope.toml"):
        load_lexicon(tmp_path / "nope.toml")


def test_packaged_lexicon_path_exists():
    assert DEFAULT_LEXICON.is_file()
