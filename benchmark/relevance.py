"""A judged set of search queries: products with known names in four languages, the queries a
buyer or a shop's back end would type for them, and the products each query should find.

The judged products use words the synthetic catalogue does not, so each query's relevant
products are known however large the catalogue around them is. `measure` adds them through
the API, runs every query through the API, reports recall@10 and MRR per kind of query, and
removes them again.
"""

from collections import defaultdict
from urllib.parse import urlencode

import orjson

from benchmark import runner as bench

SOURCE = "judged"

# Key: (EN, NL, DE, FR names), sku, EAN.
PRODUCTS = {
    "power": (
        (
            "Power cable 3x1.5mm² 100m",
            "Stroomkabel 3x1,5mm² 100m",
            "Stromkabel 3x1,5mm² 100m",
            "Câble électrique 3x1,5mm² 100m",
        ),
        "JDG-001",
        "5412345000011",
    ),
    "coax": (
        ("Coaxial cable RG6", "Coaxkabel RG6", "Koaxialkabel RG6", "Câble coaxial RG6"),
        "JDG-002",
        "5412345000028",
    ),
    "speaker": (
        (
            "Speaker cable 2x2.5mm²",
            "Luidsprekerkabel 2x2,5mm²",
            "Lautsprecherkabel 2x2,5mm²",
            "Câble haut-parleur 2x2,5mm²",
        ),
        "JDG-003",
        "5412345000035",
    ),
    "ties": (
        (
            "Cable ties 200 pieces",
            "Kabelbinders 200 stuks",
            "Kabelbinder 200 Stück",
            "Colliers de câblage 200 pièces",
        ),
        "JDG-004",
        "5412345000042",
    ),
    "hose": (
        ("Garden hose 25m", "Tuinslang 25m", "Gartenschlauch 25m", "Tuyau d'arrosage 25m"),
        "JDG-005",
        "5412345000059",
    ),
    "clamp": (
        (
            "Hose clamp 40-60mm",
            "Slangklem 40-60mm",
            "Schlauchschelle 40-60mm",
            "Collier de serrage 40-60mm",
        ),
        "JDG-006",
        "5412345000066",
    ),
    "slide": (
        (
            "Shutoff slide DN50",
            "Schuifafsluiter DN50",
            "Absperrschieber DN 50",
            "Robinet-vanne DN-50",
        ),
        "JDG-007",
        "5412345000073",
    ),
    "bracket": (
        ("Wall bracket DN80", "Muurbeugel DN80", "Wandhalterung DN 80", "Support mural DN80"),
        "JDG-008",
        "5412345000080",
    ),
    "tap": (
        ("Water tap chrome", "Waterkraan chroom", "Wasserhahn Chrom", "Robinet d'eau chromé"),
        "JDG-009",
        "5412345000097",
    ),
    "cord": (
        ("Extension cord 5m", "Verlengsnoer 5m", "Verlängerungskabel 5m", "Rallonge électrique 5m"),
        "JDG-010",
        "5412345000103",
    ),
    "socket": (
        ("Wall socket double", "Stopcontact dubbel", "Steckdose doppelt", "Prise murale double"),
        "JDG-011",
        "5412345000110",
    ),
    "switch": (
        ("Light switch", "Lichtschakelaar", "Lichtschalter", "Interrupteur"),
        "JDG-012",
        "5412345000127",
    ),
    "bulb": (
        ("LED bulb E27 8W", "Ledlamp E27 8W", "LED-Lampe E27 8W", "Ampoule LED E27 8W"),
        "JDG-013",
        "5412345000134",
    ),
    "screwdriver": (
        ("Screwdriver set", "Schroevendraaierset", "Schraubendrehersatz", "Jeu de tournevis"),
        "JDG-014",
        "5412345000141",
    ),
    "screws": (
        ("Wood screws 4x40", "Houtschroeven 4x40", "Holzschrauben 4x40", "Vis à bois 4x40"),
        "JDG-015",
        "5412345000158",
    ),
    "tape": (
        (
            "Insulation tape black",
            "Isolatietape zwart",
            "Isolierband schwarz",
            "Ruban isolant noir",
        ),
        "JDG-016",
        "5412345000165",
    ),
    "sealant": (
        (
            "Silicone sealant transparent",
            "Siliconenkit transparant",
            "Silikondichtstoff transparent",
            "Mastic silicone transparent",
        ),
        "JDG-017",
        "5412345000172",
    ),
    "box": (
        ("Junction box", "Lasdoos", "Abzweigdose", "Boîte de dérivation"),
        "JDG-018",
        "5412345000189",
    ),
    "breaker": (
        (
            "Circuit breaker 16A",
            "Installatieautomaat 16A",
            "Leitungsschutzschalter 16A",
            "Disjoncteur 16A",
        ),
        "JDG-019",
        "5412345000196",
    ),
    "smoke": (
        ("Smoke detector", "Rookmelder", "Rauchmelder", "Détecteur de fumée"),
        "JDG-020",
        "5412345000202",
    ),
    "reel": (
        ("Cable reel 25m", "Kabelhaspel 25m", "Kabeltrommel 25m", "Enrouleur de câble 25m"),
        "JDG-021",
        "5412345000219",
    ),
    "ground": (
        ("Ground cable", "Grondkabel", "Erdkabel", "Câble de terre"),
        "JDG-022",
        "5412345000226",
    ),
    "hinge": (
        ("Door hinge", "Deurscharnier", "Türscharnier", "Charnière de porte"),
        "JDG-023",
        "5412345000233",
    ),
    "padlock": (
        ("Padlock 40mm", "Hangslot 40mm", "Vorhängeschloss 40mm", "Cadenas 40mm"),
        "JDG-024",
        "5412345000240",
    ),
    "gloves": (
        ("Work gloves", "Werkhandschoenen", "Arbeitshandschuhe", "Gants de travail"),
        "JDG-025",
        "5412345000257",
    ),
    "glasses": (
        ("Safety glasses", "Veiligheidsbril", "Schutzbrille", "Lunettes de sécurité"),
        "JDG-026",
        "5412345000264",
    ),
    "level": (
        ("Spirit level 60cm", "Waterpas 60cm", "Wasserwaage 60cm", "Niveau à bulle 60cm"),
        "JDG-027",
        "5412345000271",
    ),
    "measure": (
        ("Tape measure 5m", "Rolmaat 5m", "Maßband 5m", "Mètre ruban 5m"),
        "JDG-028",
        "5412345000288",
    ),
    "drill": (
        (
            "Cordless drill 18V",
            "Accuboormachine 18V",
            "Akku-Bohrschrauber 18V",
            "Perceuse sans fil 18V",
        ),
        "JDG-029",
        "5412345000295",
    ),
    "bits": (
        ("Drill bits set", "Borenset", "Bohrersatz", "Jeu de forets"),
        "JDG-030",
        "5412345000301",
    ),
}

CABLES_EN = ["power", "coax", "speaker", "ties", "reel", "ground"]
CABLES_NL_DE = ["power", "coax", "speaker", "ties", "cord", "reel", "ground"]
CABLES_FR = ["power", "coax", "speaker", "reel", "ground"]

# (kind, language of the query, term, relevant products)
QUERIES = [
    # Whole words, as named
    ("whole word", "EN", "speaker cable", ["speaker"]),
    ("whole word", "EN", "garden hose", ["hose"]),
    ("whole word", "EN", "smoke detector", ["smoke"]),
    ("whole word", "EN", "padlock", ["padlock"]),
    ("whole word", "EN", "junction box", ["box"]),
    ("whole word", "EN", "tape measure", ["measure"]),
    ("whole word", "NL", "tuinslang", ["hose"]),
    ("whole word", "NL", "rookmelder", ["smoke"]),
    ("whole word", "NL", "hangslot", ["padlock"]),
    ("whole word", "NL", "lasdoos", ["box"]),
    ("whole word", "NL", "stopcontact", ["socket"]),
    ("whole word", "NL", "verlengsnoer", ["cord"]),
    ("whole word", "DE", "Gartenschlauch", ["hose"]),
    ("whole word", "DE", "Rauchmelder", ["smoke"]),
    ("whole word", "DE", "Steckdose", ["socket"]),
    ("whole word", "DE", "Lichtschalter", ["switch"]),
    ("whole word", "DE", "Schutzbrille", ["glasses"]),
    ("whole word", "FR", "interrupteur", ["switch"]),
    ("whole word", "FR", "disjoncteur", ["breaker"]),
    ("whole word", "FR", "cadenas", ["padlock"]),
    ("whole word", "FR", "tournevis", ["screwdriver"]),
    ("whole word", "FR", "détecteur de fumée", ["smoke"]),
    # Plurals and other inflections
    ("stem", "EN", "cables", CABLES_EN),
    ("stem", "EN", "hoses", ["hose", "clamp"]),
    ("stem", "EN", "switches", ["switch"]),
    ("stem", "EN", "hinges", ["hinge"]),
    ("stem", "EN", "detectors", ["smoke"]),
    ("stem", "EN", "glove", ["gloves"]),
    ("stem", "NL", "stopcontacten", ["socket"]),
    ("stem", "NL", "rookmelders", ["smoke"]),
    ("stem", "NL", "lichtschakelaars", ["switch"]),
    ("stem", "NL", "kabelbinder", ["ties"]),
    ("stem", "DE", "Steckdosen", ["socket"]),
    ("stem", "DE", "Lichtschaltern", ["switch"]),
    ("stem", "DE", "Arbeitshandschuh", ["gloves"]),
    ("stem", "FR", "câbles", CABLES_FR),
    ("stem", "FR", "interrupteurs", ["switch"]),
    ("stem", "FR", "disjoncteurs", ["breaker"]),
    ("stem", "FR", "perceuses", ["drill"]),
    ("stem", "FR", "charnières", ["hinge"]),
    # Words inside compound words
    ("compound", "NL", "kabel", CABLES_NL_DE),
    ("compound", "NL", "slang", ["hose", "clamp"]),
    ("compound", "NL", "schakelaar", ["switch"]),
    ("compound", "NL", "melder", ["smoke"]),
    ("compound", "NL", "haspel", ["reel"]),
    ("compound", "NL", "afsluiter", ["slide"]),
    ("compound", "NL", "kabels", CABLES_NL_DE),
    ("compound", "DE", "schlauch", ["hose", "clamp"]),
    ("compound", "DE", "Kabel", CABLES_NL_DE),
    ("compound", "DE", "Brille", ["glasses"]),
    ("compound", "DE", "Halterung", ["bracket"]),
    ("compound", "DE", "Handschuhe", ["gloves"]),
    ("compound", "DE", "Holzschraube", ["screws"]),
    # Codes: letters and digits apart, SKUs, EANs
    ("code", "EN", "DN50", ["slide"]),
    ("code", "NL", "DN 50", ["slide"]),
    ("code", "DE", "dn-50", ["slide"]),
    ("code", "FR", "DN80", ["bracket"]),
    ("code", "EN", "dn 80", ["bracket"]),
    ("code", "NL", "3x1,5", ["power"]),
    ("code", "EN", "2x2.5", ["speaker"]),
    ("code", "EN", "E27", ["bulb"]),
    ("code", "DE", "16A", ["breaker"]),
    ("code", "EN", "RG6", ["coax"]),
    ("code", "EN", "JDG-007", ["slide"]),
    ("code", "EN", "jdg007", ["slide"]),
    ("code", "EN", "5412345000028", ["coax"]),
    ("code", "FR", "4x40", ["screws"]),
    ("code", "EN", "18V drill", ["drill"]),
    # Typos
    ("typo", "EN", "paddlock", ["padlock"]),
    ("typo", "EN", "smoke detecter", ["smoke"]),
    ("typo", "EN", "scrwdriver", ["screwdriver"]),
    ("typo", "NL", "tuinsalng", ["hose"]),
    ("typo", "NL", "verlengsnor", ["cord"]),
    ("typo", "DE", "Rauchmeldr", ["smoke"]),
    ("typo", "DE", "Gartenschlauhc", ["hose"]),
    ("typo", "FR", "disjoncter", ["breaker"]),
    ("typo", "FR", "interupteur", ["switch"]),
    ("typo", "FR", "cadennas", ["padlock"]),
    # Search as you type
    ("prefix", "NL", "rookm", ["smoke"]),
    ("prefix", "NL", "schroevendr", ["screwdriver"]),
    ("prefix", "DE", "Gartensch", ["hose"]),
    ("prefix", "FR", "interrup", ["switch"]),
    ("prefix", "EN", "padl", ["padlock"]),
    ("prefix", "EN", "wood scr", ["screws"]),
]


def items() -> list[dict]:
    """The judged products as bulk items."""
    return [
        {
            "source": SOURCE,
            "sourceId": key,
            "names": [
                {"language": language, "value": name}
                for language, name in zip(("EN", "NL", "DE", "FR"), names, strict=True)
            ],
            "sku": sku,
            "eanCode": ean,
            "status": "A",
        }
        for key, (names, sku, ean) in PRODUCTS.items()
    ]


def measure(port: int, headers: dict) -> tuple[list[tuple], list[str]]:
    """Rows of recall@10 and MRR per kind of query (and overall), and the queries that missed
    a relevant product in their first ten results or did not list one first."""
    json_headers = {**headers, "Content-Type": "application/json"}
    status, body = bench.request(
        port,
        "POST",
        "/v2/products/bulk/sourceId",
        body=orjson.dumps({"products": items()}),
        headers=json_headers,
    )
    result = orjson.loads(body)
    ids = {row["key"]: row["id"] for row in result.get("data", []) if row.get("success")}
    if status != 200 or len(ids) != len(PRODUCTS):
        raise RuntimeError(f"judged products not written: {status} {body[:300]}")
    try:
        scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
        misses = []
        for kind, language, term, relevant in QUERIES:
            query = urlencode({"term": term, "language": language, "offset": 10})
            status, body = bench.request(port, "GET", f"/v2/products?{query}", headers=headers)
            if status != 200:
                raise RuntimeError(f"search {term!r}: {status} {body[:300]}")
            top = [row["id"] for row in orjson.loads(body)["data"]]
            wanted = [ids[key] for key in relevant]
            found = [pk for pk in wanted if pk in top]
            recall = len(found) / len(wanted)
            ranks = [top.index(pk) + 1 for pk in found]
            reciprocal = 1 / min(ranks) if ranks else 0.0
            scores[kind].append((recall, reciprocal))
            scores["all"].append((recall, reciprocal))
            if recall < 1 or reciprocal < 1:
                misses.append(
                    f"{language} {term!r}: {len(found)} of {len(wanted)} in the top 10, "
                    f"the first at {min(ranks) if ranks else '-'}"
                )
    finally:
        bench.request(
            port,
            "POST",
            "/v2/products/bulk/sourceId/delete",
            body=orjson.dumps(
                {"products": [{"source": SOURCE, "sourceId": key} for key in PRODUCTS]}
            ),
            headers=json_headers,
        )
    rows = []
    for kind, values in scores.items():
        recall = sum(r for r, _ in values) / len(values)
        mrr = sum(m for _, m in values) / len(values)
        target = "; target recall ≥ 0.95, MRR ≥ 0.8" if kind == "all" else ""
        rows.append(
            (
                f"relevance {kind}: recall@10 / MRR",
                f"{recall:.2f} / {mrr:.2f}",
                f"{len(values)} judged queries{target}",
            )
        )
    return rows, misses
