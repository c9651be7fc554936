"""Search analysis: words, stems, documents, the vocabulary and the ranked queries of a term."""

import pytest

from catalogue.models import SearchWord
from catalogue.search import (
    MAX_TERM_WORDS,
    RELEVANCE,
    Vocabulary,
    document_words,
    look_up,
    normalize,
    plan_term,
    record_words,
    search_document,
    stem,
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
        # Letters and digits apart, whatever separates them (or nothing).
        ("DN50 DN 50 dn-50", "dn 50 dn 50 dn 50"),
        ("3x1,5mm²", "3 x 1 5 mm 2"),
        ("Søren Œuvre", "søren œuvre"),
        ("---", ""),
        ("", ""),
    ],
)
def test_normalize(text, normalized):
    assert normalize(text) == normalized
    assert words(text) == normalized.split()


@pytest.mark.parametrize(
    ("language", "word", "stemmed"),
    [
        ("nl", "kabels", "kabel"),
        ("nl", "afsluiters", "afsluiter"),
        ("de", "ventile", "ventil"),
        ("de", "dichtungen", "dichtung"),
        ("fr", "robinets", "robinet"),
        ("en", "valves", "valv"),
        ("en", "50", None),  # digits are not stemmed
        ("en", "mm", None),  # nor words of fewer than three letters
        ("xx", "valves", None),  # a language without a stemmer
    ],
)
def test_stems_by_language(language, word, stemmed):
    assert stem(language, word) == stemmed


def test_a_document_weighs_each_language_and_marks_stems():
    document = search_document(
        {"en": "Brass valves", "nl": "Messing kabels", "de": "Messing", "fr": ""},
        ["BV-100", "", None],
    )

    assert document == (
        "'100':4D 'brass':1A 'bv':4D 'kabels':2B 'messing':2B,3C 'valves':1A "
        "'~brass':1A '~kabel':2B '~mes':2B '~messing':3C '~valv':1A"
    )
    assert document_words(document)[:3] == ["100", "brass", "bv"]


def test_a_document_ignores_languages_outside_the_catalogue():
    assert search_document({"xx": "Brass"}) == ""


def test_the_vocabulary_keeps_words_and_stems_of_three_to_sixty_four_letters_once():
    record_words(
        [
            search_document({"en": "brass valve ab abc"}),
            search_document({"en": "valve " + "x" * 64 + " " + "y" * 65}),
        ]
    )
    record_words([search_document({"en": "brass"})])
    record_words([])

    assert sorted(SearchWord.objects.values_list("word", flat=True)) == [
        "abc",
        "brass",
        "valve",
        "x" * 64,
        "~abc",
        "~brass",
        "~valv",
    ]


@pytest.fixture
def vocabulary():
    record_words(
        [
            search_document({"en": text})
            for text in ("brass valve ventil", "steel bolt", "hammer drill", "valves")
        ]
        + [search_document({"nl": "Messing kogelkraan"})]
    )


def test_the_vocabulary_knows_words_prefixes_compounds_and_typos(vocabulary):
    found = look_up(["brass", "vlave", "kraan", "dri"], {"kraan": ["kraan"]})

    assert found.known == {"brass"}
    assert found.last_is_prefix is True  # "dri" starts "drill"
    # Shortest first: the Dutch stem of "kogelkraan" is "kolkraan".
    assert dict(found.compounds) == {"kraan": ["~kolkraan", "kogelkraan"]}
    assert dict(found.typos) == {"vlave": ["valve"]}
    assert look_up(["drill"], {}).last_is_prefix is False
    assert look_up(["brass", "hamm"], {}).last_is_prefix is True
    assert look_up([], {}) == Vocabulary(set(), False, {}, {})


def test_corrections_are_nearest_first_at_most_three_and_never_stems(vocabulary):
    assert look_up(["valv"], {}).typos == {"valv": ["valve"]}  # not "~valv", a stem
    record_words([search_document({"en": "valvb valvc valvd"})])

    assert look_up(["valvx", "brass"], {}).typos["valvx"] == ["valvb", "valvc", "valvd"]


def _tiers(term: str, language: str | None = None) -> dict[int, str]:
    plan = plan_term(term, language)
    return dict(plan.tiers)


def test_a_known_word_is_searched_whole_then_by_stem(vocabulary):
    assert _tiers("valve") == {
        RELEVANCE["language"]: "'valve':A",
        RELEVANCE["whole"]: "'valve'",
        RELEVANCE["stem"]: "('valve' | '~valv' | '~valve')",
        RELEVANCE["compound"]: "('valve' | '~valv' | '~valve' | 'valves')",
    }


def test_the_requested_language_weighs_whole_words(vocabulary):
    assert _tiers("valve", "NL")[RELEVANCE["language"]] == "'valve':B"
    assert _tiers("valve", "fr")[RELEVANCE["language"]] == "'valve':D"


def test_the_last_word_may_be_typed_so_far(vocabulary):
    tiers = _tiers("brass val")

    # No record has the word "val": no record is asked whether it has it whole.
    assert min(tiers) == max(tiers) == RELEVANCE["stem"]
    assert tiers[RELEVANCE["stem"]] == (
        "('brass' | '~bras' | '~brass') & ('val' | '~val' | 'val':*)"
    )


def test_a_word_inside_a_known_word_matches_it_as_a_compound(vocabulary):
    tiers = _tiers("kraan")

    assert tiers == {
        RELEVANCE["compound"]: "('kraan' | '~kraan' | 'kraan':* | '~kolkraan' | 'kogelkraan')"
    }


def test_a_typo_is_corrected_to_known_words_and_their_stems(vocabulary):
    tiers = _tiers("vlave")

    assert list(tiers) == [RELEVANCE["typo"]]
    assert "'valve'" in tiers[RELEVANCE["typo"]] and "'~valv'" in tiers[RELEVANCE["typo"]]


def test_kinds_no_record_can_match_are_not_asked(vocabulary):
    # "valves" is a known word, "valve" too; "~valves" is no stem of any document.
    assert list(_tiers("valves")) == [
        RELEVANCE["language"],
        RELEVANCE["whole"],
        RELEVANCE["stem"],
        RELEVANCE["compound"],
    ]
    # Nothing holds or starts with "qqqqq": one query, which finds nothing.
    assert list(_tiers("brass qqqqq")) == [RELEVANCE["typo"]]


def test_short_words_and_numbers_are_neither_corrected_nor_split(vocabulary):
    tiers = _tiers("dn 50")

    assert min(tiers) == RELEVANCE["stem"]  # the last word "50" may start a longer number
    assert tiers[RELEVANCE["stem"]] == "'dn' & ('50' | '50':*)"


@pytest.mark.parametrize("term", ["", "   ", "---", "!?"])
def test_a_term_without_words_is_no_query(vocabulary, term):
    assert plan_term(term) is None


def test_only_the_first_distinct_words_of_a_long_term_count(vocabulary):
    term = " ".join(f"w{n}x" for n in range(MAX_TERM_WORDS + 3))

    assert _tiers(term)[RELEVANCE["whole"]].count("&") == MAX_TERM_WORDS - 1
    assert _tiers("brass brass valve")[RELEVANCE["whole"]] == "'brass' & 'valve'"


def test_relevance_sql_tries_the_strongest_kind_first(vocabulary):
    plan = plan_term("valve")

    sql, params = plan.relevance_sql("v")

    assert sql == (
        "CASE WHEN v @@ %s::tsquery THEN 6 WHEN v @@ %s::tsquery THEN 5 "
        "WHEN v @@ %s::tsquery THEN 4 ELSE 3 END"
    )
    assert params == [query for _, query in plan.tiers[:-1]]


def test_the_words_of_a_long_term_share_the_compound_words_searched(vocabulary):
    record_words([search_document({"nl": " ".join(f"{c}{c}kabel" for c in "abcdefghij")})])

    def compound_count(term: str) -> int:
        return sum(f"{c}{c}kabel'" in plan_term(term).query for c in "abcdefghij")

    assert compound_count("kabel") == 10
    assert compound_count("kabel brass") == 10  # 16 each for two words
    # Two per word and stem of it.
    assert compound_count("kabel " + " ".join(f"word{c}{c}" for c in "klmnopqrstu")) <= 4
