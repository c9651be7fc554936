"""Text search: one normalisation for stored documents and terms, typo-tolerant term queries."""

import re
import unicodedata

from django.db import connection, transaction

_WORD = re.compile(r"[a-z0-9]+")
MAX_TERM_WORDS = 8


def normalize(text: str) -> str:
    """Lower-case, strip accents, keep letters and digits separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(plain))


def words(text: str) -> list[str]:
    return normalize(text).split()


def search_document(*parts: str) -> str:
    """Return the searchable text of a record from its names, codes and source ids."""
    return " ".join(filter(None, (normalize(part) for part in parts if part)))


def record_words(documents: list[str]) -> None:
    """Remember every word of the documents so later terms with typos can be corrected."""
    vocabulary = sorted({w for doc in documents for w in doc.split() if 2 < len(w) <= 64})
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
    if len(word) <= 3:
        return 0
    return 1 if len(word) == 4 else 2


def corrections(term_words: list[str]) -> tuple[dict[str, list[str]], set[str], bool]:
    """Map each term word to the words to search for it; also return the known words and
    whether the last word starts a known word.

    A word the catalogue knows is searched as it is; the last word may also be the start of
    a known word (search-as-you-type); any other word is replaced by known words a small
    edit distance away, nearest first.
    """
    result = {word: [word] for word in term_words}
    if not term_words:
        return result, set(), False
    last = term_words[-1]
    last_is_prefix = False
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT word FROM catalogue_searchword WHERE word = ANY(%s)", [term_words])
        known = {row[0] for row in cursor.fetchall()}
        unknown = [w for w in term_words if w not in known and _max_distance(w)]
        if last in unknown:
            cursor.execute(
                "SELECT 1 FROM catalogue_searchword WHERE word LIKE %s LIMIT 1", [f"{last}%"]
            )
            if cursor.fetchone():
                unknown.remove(last)
                last_is_prefix = True
        if not unknown:
            return result, known, last_is_prefix
        # A low trigram threshold lets the index propose candidates such as "valve" for
        # "vlave"; the edit distance then decides.
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", ["0.15"])
        cursor.execute(
            """
            SELECT t.word, w.word
            FROM unnest(%s::text[], %s::int[]) AS t(word, distance)
            JOIN LATERAL (
                SELECT word FROM catalogue_searchword
                WHERE word %% t.word
                  AND levenshtein_less_equal(word, t.word, t.distance) <= t.distance
                ORDER BY levenshtein(word, t.word), word
                LIMIT 3
            ) w ON true
            """,
            [unknown, [_max_distance(w) for w in unknown]],
        )
        for term_word, candidate in cursor.fetchall():
            result[term_word].append(candidate)
    return result, known, last_is_prefix


def term_query(term: str) -> str | None:
    """Return the tsquery for a search term, or None if it has no words.

    Each word the catalogue knows is searched as it is; the last word also as a prefix
    unless it is a whole known word (a prefix scan is slower). Any other word is searched as
    typed or as known words a small edit away; an unknown last word that starts no known word
    through those corrections alone (a prefix scan of the index is the costly part).

    Every word of every product is known, so a product matching the words exactly as typed
    matches no unknown word: no match ranks above another, and matches come in id order.
    """
    term_words = words(term)[:MAX_TERM_WORDS]
    if not term_words:
        return None
    options, known, last_is_prefix = corrections(term_words)
    last = len(term_words) - 1
    parts = []
    for index, word in enumerate(term_words):
        typed = f"{word}:*" if index == last and word not in known else word
        alternatives = options[word][1:]
        if not alternatives:
            parts.append(typed)
            continue
        dropped = index == last and word not in known and not last_is_prefix
        choices = [*([] if dropped else [typed]), *alternatives]
        parts.append(choices[0] if len(choices) == 1 else "(" + " | ".join(choices) + ")")
    return " & ".join(parts)
