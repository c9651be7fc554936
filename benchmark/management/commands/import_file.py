"""Write an NDJSON import file shaped like the benchmark's bulk requests, for import_catalogue."""

from pathlib import Path

import orjson
from django.core.management.base import BaseCommand

from benchmark.synthetic import bulk_items

SOURCE = "bench"


class Command(BaseCommand):
    help = (
        "Write CATEGORIES categories and PRODUCTS products (4 languages, 2 source pairs, a parent "
        "category, attributes: the items the bulk benchmark sends) to an NDJSON file that "
        "import_catalogue reads; --bad-share makes that share of product rows invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("output", type=Path)
        parser.add_argument("--products", type=int, default=100_000)
        parser.add_argument("--categories", type=int, default=200)
        parser.add_argument("--bad-share", type=float, default=0.0)
        parser.add_argument("--prefix", default="import")

    def handle(
        self, *args, output: Path, products: int, categories: int, bad_share: float, prefix, **kw
    ):
        bad_every = round(1 / bad_share) if bad_share else 0
        written = bad = 0
        with open(output, "wb") as out:
            for number in range(categories):
                out.write(
                    orjson.dumps(
                        {
                            "type": "category",
                            "source": SOURCE,
                            "sourceId": f"CAT-{number}",
                            "names": [{"language": "EN", "value": f"Category {number}"}],
                        }
                    )
                    + b"\n"
                )
            batch = 2000
            for start in range(0, products, batch):
                items = bulk_items(f"{prefix}-{start}", [0], 1, min(batch, products - start))
                lines = []
                for offset, item in enumerate(items):
                    item["type"] = "product"
                    item["parent"] = {
                        "source": SOURCE,
                        "sourceId": f"CAT-{(start + offset) % categories}",
                    }
                    if bad_every and (start + offset) % bad_every == bad_every - 1:
                        item["names"][0]["language"] = "XX"
                        bad += 1
                    lines.append(orjson.dumps(item))
                out.write(b"\n".join(lines) + b"\n")
                written += len(items)
        self.stdout.write(
            f"Wrote {categories} categories and {written} products ({bad} invalid) to {output}"
        )
