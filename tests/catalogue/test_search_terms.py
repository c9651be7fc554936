"""Search terms: normalisation, the known-word vocabulary and typo corrections."""

import pytest

from catalogue.models import SearchWord
from catalogue.search import (
    MAX_TERM_WORDS,
    corrections,
    normalize,
    record_words,
    search_document,
    term_query,
    words,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Brass Valve", "brass valve"),
        ('  Ventil—Messing,  3/4" ', "ventil messing 3 4"),
        ("Crème Brûlée", "creme brulee"),
        ("STRASSE Straße", "strasse strasse"),
        ("BV-100_x", "bv 100 x"),
        ("---", ""),
        ("", ""),
    ],
)
def test_normalize(text, normalized):
    assert normalize(text) == normalized
    assert words(text) == normalized.split()


def test_a_document_joins_the_normalised_non_empty_parts():
    assert search_document("Brass Valve", "", None, "BV-100", "---", "Ventil") == (
        "brass valve bv 100 ventil"
    )


def test_the_vocabulary_keeps_words_of_three_to_sixty_four_letters_once():
    record_words(["brass valve ab abc", "valve " + "x" * 64 + " " + "y" * 65])
    record_words(["brass"])
    record_words([])

    assert sorted(SearchWord.objects.values_list("word", flat=True)) == [
        "abc",
        "brass",
        "valve",
        "x" * 64,
    ]


@pytest.fixture
def vocabulary():
    record_words(["brass valve ventil", "steel bolt", "hammer drill", "valves"])


@pytest.mark.parametrize(
    ("term", "query"),
    [
        ("brass valve", "brass & valve"),
        ("Brass, VALVE!", "brass & valve"),
        # A known last word is searched as it is (no prefix scan).
        ("valve", "valve"),
        # The last word may be the start of a known one (search as you type).
        ("brass val", "brass & val:*"),
        ("valv", "valv:*"),
        # A typo in the last word: the correction replaces it.
        ("brass vlave", "brass & valve"),
        ("hamer", "hammer"),
        # A typo elsewhere: searched as typed or corrected.
        ("vlave brass", "(vlave | valve) & brass"),
        ("stel bolt", "(stel | steel) & bolt"),
        # Short words are never corrected.
        ("bot", "bot:*"),
        ("zzz brass", "zzz & brass"),
        # A word nothing is near stays as typed.
        ("qqqqq", "qqqqq:*"),
    ],
)
def test_term_query(vocabulary, term, query):
    assert term_query(term) == query


@pytest.mark.parametrize("term", ["", "   ", "---", "!?"])
def test_a_term_without_words_is_no_query(vocabulary, term):
    assert term_query(term) is None


def test_only_the_first_words_of_a_long_term_count(vocabulary):
    term = " ".join(["brass"] * MAX_TERM_WORDS + ["valve"])

    assert term_query(term) == " & ".join(["brass"] * MAX_TERM_WORDS)


def test_corrections_report_known_words_and_a_prefix(vocabulary):
    options, known, last_is_prefix = corrections(["brass", "vlave", "dri"])

    assert options == {"brass": ["brass"], "vlave": ["vlave", "valve"], "dri": ["dri"]}
    assert known == {"brass"}
    assert last_is_prefix is False
    assert corrections(["drill", "ham"])[2] is False
    assert corrections(["brass", "hamm"])[2] is True
    assert corrections([]) == ({}, set(), False)


def test_corrections_are_nearest_first_and_at_most_three(vocabulary):
    record_words(["valvb valvc valvd"])

    options, _, _ = corrections(["valvx", "brass"])

    assert options["valvx"][0] == "valvx"
    assert options["valvx"][1:] == ["valvb", "valvc", "valvd"]
