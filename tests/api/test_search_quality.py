"""What `term` finds, and in which order, in every catalogue language: whole words, plurals and
other inflections (stems), words inside compound words, letter/digit boundaries in codes,
search as you type, typos — on products and categories alike (one engine), ranked exact code
first, then whole words in the requested language, whole words, stems and prefixes,
compounds, typo corrections; ties by id."""

import pytest

from tests.assertions import listed_ids
from tests.factories import (
    ls,
    make_categories,
    make_cluster,
    make_cluster_config,
    make_option,
    make_products,
)

# Products by key: names in EN, NL, DE, FR (the catalogue languages, in order).
PRODUCTS = {
    "power": (
        "Power cable 3x1.5mm² 100m",
        "Stroomkabel 3x1,5mm² 100m",
        "Stromkabel 3x1,5mm² 100m",
        "Câble d'alimentation 3x1,5mm² 100m",
    ),
    "coax": ("Coaxial cable RG6", "Coaxkabel RG6", "Koaxialkabel RG6", "Câble coaxial RG6"),
    "ball": (
        "Brass ball valve",
        "Messing kogelkraan",
        "Messing-Kugelhahn",
        "Robinet à bille en laiton",
    ),
    "gate": (
        "Gate valve DN50",
        "Schuifafsluiter DN50",
        "Absperrschieber DN 50",
        "Vanne à opercule DN-50",
    ),
    "cables": ("Cables kit", "Kabels set", "Kabel Set", "Lot de câbles"),
    "clamp": ("Hose clamp", "Slangklem", "Schlauchschelle", "Collier de serrage"),
    "oil": ("Oil filter", "Oliefilter", "Ölfilter", "Filtre à huile"),
    "water": ("Water strainer", "Filter voor water", "Wassersieb", "Tamis à eau"),
    "connector": ("RG6 connector", "RG6-connector", "RG6-Stecker", "Connecteur RG6"),
}
CODES = {"coax": "RG6", "gate": "GV-DN50"}

CATEGORIES = {
    "cables": ("Cables", "Kabels", "Kabel", "Câbles"),
    "power": ("Power cables", "Stroomkabels", "Stromkabel", "Câbles électriques"),
    "valves": ("Valves", "Afsluiters", "Ventile", "Vannes"),
    "gate": ("Gate valves", "Schuifafsluiters", "Absperrschieber", "Vannes à opercule"),
    "ball": ("Ball valves", "Kogelkranen", "Kugelhähne", "Robinets à bille"),
    "filters": ("Filters", "Filters", "Filter", "Filtres"),
    "flanges": ("Flanges DN50", "Flenzen DN50", "Flansche DN 50", "Brides DN-50"),
}
LANGUAGES = ("EN", "NL", "DE", "FR")


def _names(names: tuple[str, ...]) -> list[dict]:
    return ls(**dict(zip(LANGUAGES, names, strict=True)))


@pytest.fixture(scope="module")
def built(module_db):
    products = make_products(
        [
            {"names": _names(names), "sku": CODES.get(key, f"SKU-{key}")}
            for key, names in PRODUCTS.items()
        ]
    )
    categories = make_categories(
        [
            {"name": None, "names": dict(zip(LANGUAGES, names, strict=True))}
            for names in CATEGORIES.values()
        ]
    )
    return {
        "products": dict(zip(PRODUCTS, products, strict=True)),
        "categories": dict(zip(CATEGORIES, categories, strict=True)),
    }


@pytest.fixture
def api(db, module_api):
    return module_api


def found(api, world, resource: str, term: str, language: str | None = None) -> list[str]:
    """The keys of the records a term finds, in the order listed (GET and POST agree)."""
    keys = {record.pk: key for key, record in world[resource].items()}
    query = {"term": term, **({"language": language} if language else {})}
    by_get = listed_ids(api.get(f"/v2/{resource}", params=query))
    body = {"filters": {"term": term}, **({"language": language} if language else {})}
    by_post = listed_ids(api.post(f"/v2/{resource}/search", body))
    assert by_get == by_post
    return [keys[pk] for pk in by_get]


@pytest.mark.parametrize(
    ("kind", "term", "expected"),
    [
        # English
        ("whole", "valve", ["ball", "gate"]),
        ("stem", "valves", ["ball", "gate"]),
        ("whole before stem", "cable", ["power", "coax", "cables"]),
        ("prefix", "coax", ["coax"]),
        ("typo", "vlave", ["ball", "gate"]),
        ("typo", "strainr", ["water"]),
        # Dutch
        ("whole", "kogelkraan", ["ball"]),
        ("compound", "kraan", ["ball"]),
        ("compound", "afsluiter", ["gate"]),
        ("compound of a plural", "afsluiters", ["gate"]),
        ("whole, then compounds", "kabel", ["cables", "power", "coax"]),
        ("whole, then compounds", "kabels", ["cables", "power", "coax"]),
        ("typo", "kogelkran", ["ball"]),
        # German
        ("whole", "Kugelhahn", ["ball"]),
        ("stem", "Schlauchschellen", ["clamp"]),
        ("compound", "hahn", ["ball"]),
        ("compound", "schieber", ["gate"]),
        ("accents folded", "olfilter", ["oil"]),
        ("typo", "Schlauchschele", ["clamp"]),
        # French
        ("whole", "robinet", ["ball"]),
        ("stem", "robinets", ["ball"]),
        ("accents folded", "câbles", ["cables", "power", "coax"]),
        ("stem", "vannes", ["gate"]),
        ("typo", "robinnet", ["ball"]),
        # Codes: letters and digits apart, whatever separates them
        ("code", "DN 50", ["gate"]),
        ("code", "dn50", ["gate"]),
        ("code", "DN-50", ["gate"]),
        ("code", "3x1,5", ["power"]),
        ("code", "3 x 1.5 mm", ["power"]),
    ],
)
def test_products(api, world, kind, term, expected):
    assert found(api, world, "products", term) == expected


@pytest.mark.parametrize(
    ("kind", "term", "expected"),
    [
        ("whole", "valves", ["valves", "gate", "ball"]),
        ("stem", "valve", ["valves", "gate", "ball"]),
        ("typo", "vlave", ["valves", "gate", "ball"]),
        ("whole, then compounds", "kabel", ["cables", "power"]),
        ("whole, then compounds", "afsluiters", ["valves", "gate"]),
        ("compound of a stem", "kraan", ["ball"]),
        ("stem", "ventil", ["valves"]),
        ("compound", "hahn", ["ball"]),
        ("stem", "vanne", ["valves", "gate"]),
        ("accents folded", "câble", ["cables", "power"]),
        ("typo", "robinnets", ["ball"]),
        ("prefix", "filt", ["filters"]),
        ("whole", "Flenzen", ["flanges"]),
        ("whole", "Flansche", ["flanges"]),
        ("whole", "brides", ["flanges"]),
        ("code", "DN 50", ["flanges"]),
        ("code", "dn50", ["flanges"]),
        ("typo", "afsluitres", ["valves"]),  # corrections are whole words
        ("typo", "Ventiel", ["valves"]),
        ("prefix", "Absperr", ["gate"]),
    ],
)
def test_categories(api, world, kind, term, expected):
    assert found(api, world, "categories", term) == expected


def test_clusters_and_options_are_searched_alike(api, world):
    config = make_cluster_config("Cables")
    power = make_cluster("Stroomkabels", config=config, code="CL-POWER", language="NL")
    coax = make_cluster("Coax cable", config=config, code="CL-COAX")
    reel = make_option("Kabelhaspel", cluster=power, language="NL")
    make_option("Warranty", cluster=coax)

    for term, expected in (("kabel", [power.pk]), ("cables", [coax.pk]), ("cl-coax", [coax.pk])):
        assert listed_ids(api.get("/v2/clusters", params={"term": term})) == expected
    for term in ("haspel", "kabelhaspels", "kabelhasple"):
        assert listed_ids(api.get("/v2/clusteroptions", params={"term": term})) == [reel.pk]


def test_an_exact_code_ranks_first(api, world):
    # Both name RG6; "coax" has it as its sku.
    assert found(api, world, "products", "RG6") == ["coax", "connector"]
    assert found(api, world, "products", "gv-dn50") == ["gate"]


@pytest.mark.parametrize(
    ("language", "expected"),
    [(None, ["oil", "water"]), ("EN", ["oil", "water"]), ("NL", ["water", "oil"])],
)
def test_whole_words_in_the_requested_language_rank_first(api, world, language, expected):
    # "filter" is a whole word of the oil filter's English name and of the water strainer's
    # Dutch one; the default language is the catalogue's first (EN).
    assert found(api, world, "products", "filter", language)[:2] == expected


def test_the_requested_language_ranks_categories_too(api, world):
    assert found(api, world, "categories", "filter", "DE") == ["filters"]
    assert found(api, world, "categories", "kabel", "DE") == ["cables", "power"]


def test_every_word_must_match(api, world):
    assert found(api, world, "products", "messing kraan") == ["ball"]
    assert found(api, world, "products", "kabel rg6") == ["coax"]
    assert found(api, world, "products", "kabel zzzzzz") == []


def test_an_explicit_sort_replaces_relevance(api, world):
    keys = {p.pk: k for k, p in world["products"].items()}
    response = api.get("/v2/products", params={"term": "kabel", "sort": "-id"})

    assert [keys[pk] for pk in listed_ids(response)] == ["cables", "coax", "power"]


def test_pages_follow_the_ranking(api, world):
    keys = {p.pk: k for k, p in world["products"].items()}
    pages = [
        [
            keys[pk]
            for pk in listed_ids(
                api.get("/v2/products", params={"term": "kabel", "offset": 1, "page": page})
            )
        ]
        for page in (1, 2, 3, 4)
    ]

    assert pages == [["cables"], ["power"], ["coax"], []]
    body = api.get("/v2/products", params={"term": "kabel", "offset": 1, "page": 4}).json()
    assert body["itemsFound"] == 3


@pytest.mark.parametrize("probe", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("size", [1, 2, 3, 12])
def test_a_first_page_from_the_first_ids_is_the_ranked_first_page(world, monkeypatch, probe, size):
    from catalogue.selectors import terms

    terms_asked = ["kabel", "kabels", "valve", "cable", "filter", "dn 50", "rg6", "vlave", "kraan"]
    monkeypatch.setattr(terms, "FIRST_PAGE_PROBE", 0)  # every match ranked
    ranked = {term: terms.term_page(terms.PRODUCTS, term, "NL", 0, size) for term in terms_asked}
    monkeypatch.setattr(terms, "FIRST_PAGE_PROBE", probe)

    assert {t: terms.term_page(terms.PRODUCTS, t, "NL", 0, size) for t in terms_asked} == ranked


@pytest.mark.parametrize("term", ["kabel", "kabels", "filter", "rg6", "vlave", "DN 50"])
@pytest.mark.parametrize("resource", ["products", "categories"])
def test_a_term_ranks_alike_beside_other_filters(api, world, term, resource):
    # With another filter the list is read the general way; the ranking is the same.
    every = ",".join(str(record.pk) for record in world[resource].values())
    alone = listed_ids(api.get(f"/v2/{resource}", params={"term": term, "language": "NL"}))
    beside = api.get(f"/v2/{resource}", params={"term": term, "language": "NL", "ids": every})

    assert listed_ids(beside) == alone
