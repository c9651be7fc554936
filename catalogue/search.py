"""Text search: one analysis for stored documents and search terms, and ranked term queries.

A record's search document is a PostgreSQL tsvector, written from here (the search tables
hold nothing else):

- every word of a name, lower-cased, accents folded, letters and digits apart — "DN50", "dn-50"
  and "DN 50" all give the words `dn` and `50` — carrying the weight of the name's language
  (A, B, C, D for the first four catalogue languages; later languages share D);
- the word's stem by its language's Snowball stemmer, marked `~` ("kabels" → `~kabel`), so a
  stem never passes for a whole word;
- the words of codes and source ids as they are, with weight D.

A term is analysed the same way. Each term word is then searched as: itself (a whole word); its
stem in every catalogue language; for the last word, the start of a longer word (search as you
type); a known word that contains it (compound words: `kraan` → "kogelkraan", `kabel` →
"stroomkabel"); a known word a small edit away (typos: `vlave` → "valve"). "Known" words are the
vocabulary of every record's words (SearchWord), so compounds and corrections are found in a
small table and searched in the large one as whole words through its index.

A record matches when every term word matches one of these ways. Its relevance is the weakest
kind it needed (see RELEVANCE): exact codes, then whole words in the requested language, whole
words in any language, stems and prefixes, compounds, typo corrections.
"""

import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import Stemmer
from django.conf import settings
from django.db import connection, transaction

# Letters (of any script) or digits: the boundary between them splits a word.
_WORD = re.compile(r"[^\W\d_]+|\d+")
_LEXEME = re.compile(r"'([^']+)'")
MAX_TERM_WORDS = 12
# Longer "words" (a pasted blob) are not indexed: no one searches for them.
MAX_WORD_LENGTH = 100
# Words of at least this many letters are stemmed and found inside compound words.
MIN_STEMMED = 3
MIN_COMPOUND_PART = 4
# Compound words searched for a term, shortest first, shared by its words: each alternative
# widens the index scan, and a long term of common word parts would otherwise read most of it.
MAX_COMPOUNDS = 32
MIN_COMPOUNDS_PER_WORD = 2

# Relevance of each kind of match; higher ranks first.
RELEVANCE = {
    "code": 7,  # the term is a record's code, EAN or source id, exactly
    "language": 6,  # every word whole, in the requested language's name
    "whole": 5,  # every word whole, in any name (or code)
    "stem": 4,  # ... or by stem, the last word also by its start
    "compound": 3,  # ... or inside a longer (compound) word
    "typo": 2,  # ... or corrected
}

# Snowball stemmers by ISO 639-1 language code.
STEMMER_NAMES = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "nb": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
WEIGHTS = "ABCD"
CODE_WEIGHT = "D"
_stemmers = threading.local()  # a Stemmer object serves one thread at a time


def fold(text: str) -> str:
    """Lower-case and strip accents ("Straße" → "strasse", "Küche" → "kuche")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The words of a text: folded, letters and digits apart ("DN50" → dn, 50)."""
    return [w for w in _WORD.findall(fold(text)) if len(w) <= MAX_WORD_LENGTH]


def normalize(text: str) -> str:
    return " ".join(words(text))


def language_weight(language: str | None) -> str | None:
    """The document weight of a catalogue language's names (None: not a catalogue language)."""
    codes = [code for code, _ in settings.LANGUAGES]
    language = (language or "").lower()
    if language not in codes:
        return None
    return WEIGHTS[min(codes.index(language), len(WEIGHTS) - 1)]


@lru_cache(maxsize=50_000)
def stem(language: str, word: str) -> str | None:
    """A word's stem in a language, or None where the language has no stemmer or the word is
    no word to stem (digits, or too short)."""
    name = STEMMER_NAMES.get(language.lower())
    if name is None or len(word) < MIN_STEMMED or word.isdigit():
        return None
    stemmers = _stemmers.__dict__
    if name not in stemmers:
        stemmers[name] = Stemmer.Stemmer(name)
    return stemmers[name].stemWord(word)


def _literal(weights: dict[str, set[str]]) -> str:
    # One position per weight (1 = A … 4 = D): positions only carry the weights here.
    return " ".join(
        f"'{lexeme}':" + ",".join(f"{WEIGHTS.index(w) + 1}{w}" for w in sorted(marks))
        for lexeme, marks in sorted(weights.items())
    )


def search_document(names: dict[str, str], codes: Iterable[str] = ()) -> str:
    """The search document (tsvector text) of a record from its names by language code and
    its codes and source ids."""
    weights: dict[str, set[str]] = defaultdict(set)
    for language, name in names.items():
        weight = language_weight(language)
        if not name or weight is None:
            continue
        for word in words(name):
            weights[word].add(weight)
            stemmed = stem(language, word)
            if stemmed:
                weights[f"~{stemmed}"].add(weight)
    for code in codes:
        for word in words(code or ""):
            weights[word].add(CODE_WEIGHT)
    return _literal(weights)


def document_words(document: str) -> list[str]:
    """The words of a search document, and its stems (marked `~`)."""
    return _LEXEME.findall(document)


def record_words(documents: list[str]) -> None:
    """Remember every word and stem of the documents: terms are corrected towards the words
    and compound words (and their stems: "kogelkranen" → `~kogelkraan`) are found among both."""
    vocabulary = sorted({w for doc in documents for w in document_words(doc) if 2 < len(w) <= 64})
    if not vocabulary:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalogue_searchword (word) SELECT unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING",
            [vocabulary],
        )


def _max_distance(word: str) -> int:
    # A transposition ("vlave" for "valve") costs two edits, so words of five letters or
    # more may be two edits away.
    if len(word) <= 3 or word.isdigit():
        return 0
    return 1 if len(word) == 4 else 2


@dataclass
class Vocabulary:
    """What the vocabulary says of a term's words."""

    known: set[str]  # the words and stems it holds as they are
    last_is_prefix: bool  # whether the last word starts a longer word it holds
    compounds: dict[str, list[str]]  # words (and stems) holding a term word, shortest first
    typos: dict[str, list[str]]  # words a small edit away from an unknown word, nearest first


def look_up(
    term_words: list[str], parts: dict[str, list[str]], stems: Iterable[str] = ()
) -> Vocabulary:
    """Look the words of a term up in the vocabulary, in two statements at most.

    `parts` maps a term word to the strings (itself, its stems) whose compounds are wanted;
    `stems` (marked `~`) are looked up with the words.
    Unknown words of more than three letters are corrected to words a small edit away; the
    last word is corrected too even when it starts a known word (it may be typed so far, or
    mistyped: both are searched, corrections rank lower).
    """
    wanted = [(word, part) for word, found in parts.items() for part in found]
    vocabulary = Vocabulary(set(), False, defaultdict(list), defaultdict(list))
    if not term_words:
        return vocabulary
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 'known', word, word FROM catalogue_searchword WHERE word = ANY(%s)
            UNION ALL
            SELECT 'prefix', '', word FROM (
                SELECT word FROM catalogue_searchword WHERE word LIKE %s AND word <> %s LIMIT 1
            ) longer
            UNION ALL
            SELECT 'compound', t.word, w.word
            FROM unnest(%s::text[], %s::text[]) AS t(word, part)
            JOIN LATERAL (
                SELECT word FROM catalogue_searchword
                WHERE word LIKE '%%' || t.part || '%%' AND word <> t.word
                ORDER BY length(word), word
                LIMIT %s
            ) w ON true
            """,
            [
                [*term_words, *stems],
                f"{term_words[-1]}%",
                term_words[-1],
                [w for w, _ in wanted],
                [p for _, p in wanted],
                max(MIN_COMPOUNDS_PER_WORD, MAX_COMPOUNDS // max(1, len(parts))),
            ],
        )
        for kind, word, found in cursor.fetchall():
            if kind == "known":
                vocabulary.known.add(found)
            elif kind == "prefix":
                vocabulary.last_is_prefix = True
            elif found not in vocabulary.compounds[word]:
                vocabulary.compounds[word].append(found)
        unknown = [w for w in term_words if w not in vocabulary.known and _max_distance(w)]
        if not unknown:
            return vocabulary
        # A low trigram threshold lets the index propose candidates such as "valve" for
        # "vlave"; the edit distance then decides.
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", ["0.15"])
        cursor.execute(
            """
            SELECT t.word, w.word
            FROM unnest(%s::text[], %s::int[]) AS t(word, distance)
            JOIN LATERAL (
                SELECT word FROM catalogue_searchword
                WHERE word %% t.word AND word NOT LIKE '~%%'
                  AND levenshtein_less_equal(word, t.word, t.distance) <= t.distance
                ORDER BY levenshtein(word, t.word), word
                LIMIT 3
            ) w ON true
            """,
            [unknown, [_max_distance(w) for w in unknown]],
        )
        for word, candidate in cursor.fetchall():
            vocabulary.typos[word].append(candidate)
    return vocabulary


@dataclass
class WordMatches:
    """The ways one term word may match, by kind."""

    word: str
    stems: list[str] = field(default_factory=list)
    prefix: bool = False
    compounds: list[str] = field(default_factory=list)
    typos: list[str] = field(default_factory=list)

    def possible(self, kind: str, vocabulary: Vocabulary) -> bool:
        """Whether the word can match this kind's way (or a stronger one) at all: the
        vocabulary holds every word and stem of every document (but the shortest)."""

        def held(lexeme: str) -> bool:
            return not 2 < len(lexeme) <= 64 or lexeme in vocabulary.known

        if held(self.word):
            return True
        if kind in ("language", "whole"):
            return False
        if any(held(s) for s in self.stems):
            return True
        if self.prefix and (vocabulary.last_is_prefix or len(self.word) <= 2):
            return True
        return (kind in ("compound", "typo") and bool(self.compounds)) or kind == "typo"

    def alternatives(self, kind: str, weight: str | None = None) -> str:
        """The tsquery of this word for a kind of match and every stronger one."""
        if kind == "language":
            return f"'{self.word}':{weight}"
        options = [f"'{self.word}'"]
        if kind != "whole":
            options += [f"'{s}'" for s in self.stems]
            if self.prefix:
                options.append(f"'{self.word}':*")
        if kind in ("compound", "typo"):
            options += [f"'{w}'" for w in self.compounds]
        if kind == "typo":
            options += [f"'{w}'" for w in self.typos]
        options = list(dict.fromkeys(options))
        return options[0] if len(options) == 1 else "(" + " | ".join(options) + ")"


@dataclass
class TermPlan:
    """The tsqueries of a term, one per kind of match, strongest first: (relevance, query).
    The last one finds every match."""

    tiers: list[tuple[int, str]]

    @property
    def query(self) -> str:
        return self.tiers[-1][1]

    def relevance_sql(self, vector: str) -> tuple[str, list[str]]:
        """SQL giving a found record's relevance from its search vector, and its parameters."""
        *stronger, (weakest, _) = self.tiers
        if not stronger:
            return str(weakest), []
        cases = " ".join(f"WHEN {vector} @@ %s::tsquery THEN {value}" for value, _ in stronger)
        return f"CASE {cases} ELSE {weakest} END", [query for _, query in stronger]


def plan_term(term: str, language: str | None = None) -> TermPlan | None:
    """The ranked queries for a search term, or None if it has no words.

    `language` (a catalogue language code) is the one whose whole-word matches rank first;
    without it the catalogue's default language.
    """
    term_words = list(dict.fromkeys(words(term)))[:MAX_TERM_WORDS]
    if not term_words:
        return None
    languages = [code for code, _ in settings.LANGUAGES]
    stems = {
        word: sorted({s for code in languages if (s := stem(code, word))}) for word in term_words
    }
    parts = {
        word: sorted({word} | {s for s in stems[word] if len(s) >= MIN_COMPOUND_PART})
        for word in term_words
        if not word.isdigit() and len(word) >= MIN_COMPOUND_PART
    }
    vocabulary = look_up(term_words, parts, [f"~{s}" for found in stems.values() for s in found])
    matches = []
    for index, word in enumerate(term_words):
        typos = vocabulary.typos.get(word, [])
        # The last word is also searched as the start of a longer one, unless it is a whole
        # known word or nothing starts with it but its corrections do (a prefix scan costs).
        prefix = (
            index == len(term_words) - 1
            and word not in vocabulary.known
            and (vocabulary.last_is_prefix or not typos)
        )
        # A correction matches by its stems too ("vlave" → valve → "valves").
        typo_stems = {f"~{s}" for t in typos for code in languages if (s := stem(code, t))}
        matches.append(
            WordMatches(
                word,
                [f"~{s}" for s in stems[word]],
                prefix,
                compounds=vocabulary.compounds.get(word, []),
                typos=[*typos, *sorted(typo_stems)],
            )
        )
    weight = language_weight(language or settings.LANGUAGE_CODE)
    tiers: list[tuple[int, str]] = []
    kinds = ("language", "whole", "stem", "compound", "typo")
    for kind in kinds if weight else kinds[1:]:
        if kind != "typo" and not all(match.possible(kind, vocabulary) for match in matches):
            continue  # no record can match this way: no need to ask each one
        query = " & ".join(match.alternatives(kind, weight) for match in matches)
        if tiers and tiers[-1][1] == query:
            continue  # nothing more of this kind
        tiers.append((RELEVANCE[kind], query))
    return TermPlan(tiers)
