"""A small, realistic demo catalogue: 20 categories and 60 products in EN, NL, DE and FR."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from api.importing import upsert_batch

SOURCE = "demo"

# (sourceId, parent sourceId, names by language): four departments of four categories each.
CATEGORIES = [
    ("plumbing", None, ("Plumbing", "Sanitair", "Sanitär", "Plomberie")),
    ("valves", "plumbing", ("Valves", "Kranen", "Ventile", "Vannes")),
    ("pipes", "plumbing", ("Pipes", "Buizen", "Rohre", "Tuyaux")),
    ("fittings", "plumbing", ("Fittings", "Fittingen", "Fittings", "Raccords")),
    ("taps", "plumbing", ("Taps", "Kranen voor wastafels", "Armaturen", "Robinets")),
    ("electrical", None, ("Electrical", "Elektra", "Elektro", "Électricité")),
    ("cables", "electrical", ("Cables", "Kabels", "Kabel", "Câbles")),
    ("switches", "electrical", ("Switches", "Schakelaars", "Schalter", "Interrupteurs")),
    ("lighting", "electrical", ("Lighting", "Verlichting", "Beleuchtung", "Éclairage")),
    ("sockets", "electrical", ("Sockets", "Stopcontacten", "Steckdosen", "Prises")),
    ("tools", None, ("Tools", "Gereedschap", "Werkzeug", "Outils")),
    ("drills", "tools", ("Drills", "Boormachines", "Bohrmaschinen", "Perceuses")),
    ("saws", "tools", ("Saws", "Zagen", "Sägen", "Scies")),
    ("hand-tools", "tools", ("Hand tools", "Handgereedschap", "Handwerkzeug", "Outils à main")),
    ("measuring", "tools", ("Measuring", "Meetgereedschap", "Messwerkzeug", "Mesure")),
    ("garden", None, ("Garden", "Tuin", "Garten", "Jardin")),
    ("hoses", "garden", ("Hoses", "Slangen", "Schläuche", "Tuyaux d'arrosage")),
    ("sprinklers", "garden", ("Sprinklers", "Sproeiers", "Regner", "Arroseurs")),
    ("planters", "garden", ("Planters", "Plantenbakken", "Pflanzkübel", "Jardinières")),
    (
        "garden-tools",
        "garden",
        ("Garden tools", "Tuingereedschap", "Gartengeräte", "Outils de jardin"),
    ),
]

# Per leaf category: the product noun by language, attribute name and values, base price class.
PRODUCT_LINES = {
    "valves": (
        ("ball valve", "kogelkraan", "Kugelhahn", "vanne à boisseau"),
        "SIZE",
        ('1/2"', '3/4"', '1"', '5/4"'),
    ),
    "pipes": (
        ("copper pipe", "koperen buis", "Kupferrohr", "tube en cuivre"),
        "DIAMETER",
        ("15 mm", "22 mm", "28 mm", "35 mm"),
    ),
    "fittings": (
        ("elbow fitting", "knie", "Winkel", "coude"),
        "SIZE",
        ("15 mm", "22 mm", "28 mm", "35 mm"),
    ),
    "taps": (
        ("basin mixer", "wastafelmengkraan", "Waschtischarmatur", "mitigeur lavabo"),
        "FINISH",
        ("chrome", "black", "brushed steel", "brass"),
    ),
    "cables": (
        ("installation cable", "installatiekabel", "Installationskabel", "câble d'installation"),
        "CROSS_SECTION",
        ("1.5 mm²", "2.5 mm²", "4 mm²", "6 mm²"),
    ),
    "switches": (
        ("light switch", "lichtschakelaar", "Lichtschalter", "interrupteur"),
        "COLOR",
        ("white", "black", "anthracite", "aluminium"),
    ),
    "lighting": (
        ("LED bulb", "ledlamp", "LED-Lampe", "ampoule LED"),
        "WATTAGE",
        ("4 W", "6 W", "9 W", "12 W"),
    ),
    "sockets": (
        ("wall socket", "wandcontactdoos", "Wandsteckdose", "prise murale"),
        "COLOR",
        ("white", "black", "cream", "grey"),
    ),
    "drills": (
        ("cordless drill", "accuboormachine", "Akku-Bohrschrauber", "perceuse sans fil"),
        "VOLTAGE",
        ("12 V", "18 V", "36 V", "10.8 V"),
    ),
    "saws": (
        ("hand saw", "handzaag", "Handsäge", "scie égoïne"),
        "LENGTH",
        ("350 mm", "450 mm", "550 mm", "600 mm"),
    ),
    "hand-tools": (
        ("claw hammer", "klauwhamer", "Klauenhammer", "marteau arrache-clou"),
        "WEIGHT",
        ("300 g", "450 g", "600 g", "800 g"),
    ),
    "measuring": (
        ("tape measure", "rolmaat", "Maßband", "mètre ruban"),
        "LENGTH",
        ("3 m", "5 m", "8 m", "10 m"),
    ),
    "hoses": (
        ("garden hose", "tuinslang", "Gartenschlauch", "tuyau d'arrosage"),
        "LENGTH",
        ("15 m", "25 m", "30 m", "50 m"),
    ),
    "sprinklers": (
        ("oscillating sprinkler", "zwenksproeier", "Viereckregner", "arroseur oscillant"),
        "AREA",
        ("90 m²", "150 m²", "250 m²", "350 m²"),
    ),
    "planters": (
        ("planter", "plantenbak", "Pflanzkübel", "jardinière"),
        "COLOR",
        ("terracotta", "anthracite", "white", "green"),
    ),
    "garden-tools": (
        ("pruning shears", "snoeischaar", "Gartenschere", "sécateur"),
        "GRIP",
        ("standard", "ergonomic", "left-handed", "telescopic"),
    ),
}
# The brand line of each product: (brand, material/variant adjective by language).
RANGES = [
    ("Aquaflow", ("Standard", "Standaard", "Standard", "Standard")),
    ("Stahlwerk", ("Professional", "Professioneel", "Profi", "Professionnel")),
    ("Verdi", ("Eco", "Eco", "Öko", "Éco")),
    ("Nordline", ("Compact", "Compact", "Kompakt", "Compact")),
]
PRODUCTS_PER_LINE = (4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3)  # 60 in all
DESCRIPTION_TAILS = (
    "built for daily use by professionals and do-it-yourselfers alike.",
    "gemaakt voor dagelijks gebruik door vakmensen en doe-het-zelvers.",
    "für den täglichen Einsatz von Profis und Heimwerkern gebaut.",
    "conçu pour un usage quotidien, par les professionnels comme les bricoleurs.",
)
STATUSES = ("A", "A", "A", "T", "A", "P", "A", "S")


def _localized(values: tuple[str, ...], languages: list[str]) -> list[dict]:
    return [
        {"language": language, "value": value}
        for language, value in zip(languages, values, strict=False)
    ]


def demo_categories(languages: list[str]) -> list[dict]:
    """The category tree, parents before their children."""
    items = []
    for source_id, parent, names in CATEGORIES:
        item = {
            "source": SOURCE,
            "sourceId": f"CAT-{source_id}",
            "names": _localized(names, languages),
            "priority": len(items),
        }
        if parent:
            item["parent"] = {"source": SOURCE, "sourceId": f"CAT-{parent}"}
        items.append(item)
    return items


def demo_products(languages: list[str]) -> list[dict]:
    items = []
    for (leaf, (nouns, attribute, values)), count in zip(
        PRODUCT_LINES.items(), PRODUCTS_PER_LINE, strict=True
    ):
        for variant in range(count):
            brand, adjectives = RANGES[variant]
            number = len(items) + 1
            names = tuple(
                f"{brand} {adjective} {noun} {values[variant]}"
                for adjective, noun in zip(adjectives, nouns, strict=True)
            )
            descriptions = tuple(
                f"{name}: {tail}" for name, tail in zip(names, DESCRIPTION_TAILS, strict=True)
            )
            items.append(
                {
                    "source": SOURCE,
                    "sourceId": f"PRD-{number:03d}",
                    "sources": [
                        {"source": SOURCE, "sourceId": f"PRD-{number:03d}"},
                        {"source": "erp", "sourceId": f"{100000 + number}"},
                    ],
                    "names": _localized(names, languages),
                    "descriptions": _localized(descriptions, languages),
                    "sku": f"{leaf[:3].upper()}-{number:04d}",
                    "supplier": brand,
                    "supplierCode": f"{brand[:2].upper()}{number:05d}",
                    "manufacturer": brand,
                    "eanCode": f"87{number:011d}",
                    "status": STATUSES[number % len(STATUSES)],
                    "weight": round(0.2 + (number % 9) * 0.35, 2),
                    "attributes": [
                        {"name": attribute, "value": values[variant]},
                        {"name": "BRAND", "value": brand.upper()},
                    ],
                    "parent": {"source": SOURCE, "sourceId": f"CAT-{leaf}"},
                }
            )
    return items


class Command(BaseCommand):
    help = (
        "Load a small demo catalogue (20 categories, 60 products in the catalogue languages "
        "with attributes and source ids) through the bulk engine. Running it again updates "
        "the same records."
    )

    def handle(self, *args, **options):
        languages = settings.CATALOGUE_LANGUAGES
        for resource, items in (
            ("categories", demo_categories(languages)),
            ("products", demo_products(languages)),
        ):
            results = upsert_batch(resource, items, "sourceId")
            failed = [result for result in results if not result["success"]]
            if failed:
                raise CommandError(f"demo {resource} failed: {failed[:3]}")
            created = sum(result["action"] == "create" for result in results)
            self.stdout.write(
                f"Demo {resource}: {created} created, {len(results) - created} updated"
            )
