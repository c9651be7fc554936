"""import_catalogue, export_catalogue, seed_demo and the adapter they share."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from api import importing
from api.management.progress import Progress
from catalogue.models import Category, Product, ProductSource

pytestmark = pytest.mark.django_db


def category_row(source_id: str, name: str, parent: str | None = None, **fields) -> dict:
    row = {
        "type": "category",
        "source": "erp",
        "sourceId": source_id,
        "names": [{"language": "EN", "value": name}],
        **fields,
    }
    if parent:
        row["parent"] = {"sourceId": parent}
    return row


def product_row(source_id: str, name: str, parent: str | None = "C-1", **fields) -> dict:
    row = {
        "type": "product",
        "source": "erp",
        "sourceId": source_id,
        "names": [{"language": "EN", "value": name}, {"language": "NL", "value": f"{name} NL"}],
        "attributes": [{"name": "COLOR", "value": "red"}],
        **fields,
    }
    if parent:
        row["parent"] = {"sourceId": parent}
    return row


def write_ndjson(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run(command: str, *args, **options) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def run_failing(command: str, *args, **options) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(command, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue(), str(raised.value)


@pytest.fixture
def catalogue_file(tmp_path) -> Path:
    return write_ndjson(
        tmp_path / "catalogue.ndjson",
        [
            category_row("C-1", "Valves"),
            category_row("C-2", "Ball valves", parent="C-1"),
            product_row("P-1", "Brass valve", parent="C-2"),
            product_row("P-2", "Steel valve", weight=2.5),
            product_row("P-3", "Plastic valve", status="T"),
        ],
    )


# Import -----------------------------------------------------------------------------------------


def test_ndjson_import_creates_categories_and_products(catalogue_file):
    output = run("import_catalogue", str(catalogue_file))

    assert "categories: 2 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert "products: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert "Total: 5 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    child = Category.objects.get(sources__source_id="C-2")
    assert child.parent.sources.get().source_id == "C-1"
    product = Product.objects.get(sources__source_id="P-1")
    assert (product.name_en, product.name_nl) == ("Brass valve", "Brass valve NL")
    assert product.attributes == [{"name": "COLOR", "value": "red"}]
    assert product.categories.get().sources.get().source_id == "C-2"
    assert not catalogue_file.with_name("catalogue.rejects.ndjson").exists()


def test_running_a_file_again_converges(catalogue_file):
    run("import_catalogue", str(catalogue_file))
    rows = [json.loads(line) for line in catalogue_file.read_text().splitlines()]
    rows[3]["weight"] = 3.0
    write_ndjson(catalogue_file, rows)

    output = run("import_catalogue", str(catalogue_file))

    assert "categories: 0 created, 0 updated, 2 unchanged" in output
    assert "products: 0 created, 1 updated, 2 unchanged" in output
    assert Product.objects.count() == 3
    assert Category.objects.count() == 2
    assert ProductSource.objects.count() == 3
    assert float(Product.objects.get(sources__source_id="P-2").weight) == 3.0


def test_csv_with_localized_columns_imports(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(
        "type,source,sourceId,names.EN,names.NL,names.DE,parent.sourceId,sku,weight,priority,"
        "attributes.COLOR,attributes.SIZE\n"
        "category,erp,C-1,Valves,Kranen,,,,,3,,\n"
        'product,erp,P-1,"Valve, brass",Kraan,Ventil,C-1,V-1,1.25,7,red,\n'
        "product,erp,P-2,Tap,,,C-1,T-1,,,,M\n"
    )

    output = run("import_catalogue", str(path))

    assert "Total: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert Category.objects.get().priority == 3
    valve = Product.objects.get(sku="V-1")
    assert (valve.name_en, valve.name_nl, valve.name_de) == ("Valve, brass", "Kraan", "Ventil")
    assert float(valve.weight) == 1.25
    assert valve.priority == 7
    assert valve.attributes == [{"name": "COLOR", "value": "red"}]
    assert Product.objects.get(sku="T-1").attributes == [{"name": "SIZE", "value": "M"}]
    assert run("import_catalogue", str(path)).count("unchanged") >= 1
    assert Product.objects.count() == 2


def test_a_resource_option_stands_for_the_type_column(tmp_path):
    path = tmp_path / "categories.csv"
    path.write_text("source,sourceId,names.EN\nerp,C-1,Valves\nerp,C-2,Pipes\n")

    output = run("import_catalogue", str(path), resource="categories")

    assert "categories: 2 created" in output


def test_a_row_whose_type_contradicts_the_resource_option_fails(catalogue_file):
    output, _ = run_failing("import_catalogue", str(catalogue_file), resource="products")

    # (the products fail too: their parent categories were never created)
    assert "products: 0 created, 0 updated, 0 unchanged, 0 skipped, 5 failed" in output
    lines = catalogue_file.with_name("catalogue.rejects.ndjson").read_text().splitlines()
    rejects = {json.loads(line)["sourceId"]: json.loads(line)["_errors"] for line in lines}
    for source_id in ("C-1", "C-2"):
        assert rejects[source_id][0]["messages"] == [
            "type: category is not one of the products this import was given"
        ]
    assert rejects["P-1"][0]["type"] == "ParentCategoryNotFound"
    assert not Category.objects.exists()
    assert not Product.objects.exists()


def test_bad_rows_go_to_a_reject_file_that_imports_once_fixed(tmp_path):
    rows = [category_row("C-1", "Valves")]
    rows += [product_row(f"P-{n}", f"Valve {n}") for n in range(1, 100)]
    rows[50]["names"][0]["language"] = "XX"  # one bad row in a hundred
    path = write_ndjson(tmp_path / "products.ndjson", rows)

    # when
    output, error = run_failing("import_catalogue", str(path))

    # then the rest is imported and the bad row is rejected with its error
    assert "products: 98 created, 0 updated, 0 unchanged, 0 skipped, 1 failed" in output
    assert "1 row(s) failed" in error
    rejects_path = tmp_path / "products.rejects.ndjson"
    rejects = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    assert len(rejects) == 1
    assert rejects[0]["sourceId"] == "P-50"
    assert rejects[0]["_errors"] == [
        {
            "code": 10007,
            "type": "SchemaValidationException",
            "messages": ['names[0].language: unknown language "XX"'],
        }
    ]
    assert not Product.objects.filter(sources__source_id="P-50").exists()

    # when the reject file is fixed and imported as it is
    rejects_path.write_text(rejects_path.read_text().replace('"XX"', '"EN"'))
    output = run("import_catalogue", str(rejects_path))

    # then
    assert "products: 1 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert Product.objects.count() == 99


def test_csv_rejects_keep_the_columns_and_add_errors(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(
        "type,source,sourceId,names.EN,status\n"
        "product,erp,P-1,Valve,A\n"
        "product,erp,P-2,Tap,Q\n"
        "widget,erp,P-3,Thing,A\n"
    )

    output, _ = run_failing("import_catalogue", str(path))

    assert "products: 1 created, 0 updated, 0 unchanged, 0 skipped, 1 failed" in output
    rejects_path = tmp_path / "products.rejects.csv"
    rejects = list(csv.DictReader(rejects_path.open()))
    assert [row["sourceId"] for row in rejects] == ["P-3", "P-2"]
    assert rejects[0]["_errors"].startswith("10007 SchemaValidationException: type: must be")
    assert rejects[1]["_errors"].startswith("10007 SchemaValidationException: status")

    # when fixed in place
    fixed = rejects_path.read_text().replace("widget", "product").replace(",Q,", ",A,")
    rejects_path.write_text(fixed)
    output = run("import_catalogue", str(rejects_path))

    assert "products: 2 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert Product.objects.count() == 3


def test_a_line_that_is_not_json_is_rejected_and_can_be_fixed(tmp_path):
    path = tmp_path / "rows.ndjson"
    path.write_text(json.dumps(category_row("C-1", "Valves")) + "\n{not json\n")

    run_failing("import_catalogue", str(path))

    rejects_path = tmp_path / "rows.rejects.ndjson"
    reject = json.loads(rejects_path.read_text())
    assert reject["_line"] == "{not json"
    assert reject["_errors"][0]["code"] == 10005
    reject["_line"] = json.dumps(category_row("C-2", "Pipes"))
    rejects_path.write_text(json.dumps(reject) + "\n")
    assert "categories: 1 created" in run("import_catalogue", str(rejects_path))


def test_batches_stay_within_the_bulk_limits(tmp_path, monkeypatch):
    assert importing.batch_limit("products") == 2000
    assert importing.batch_limit("categories") == 1000
    assert importing.batch_limit("clusters") == 1000
    limits = {"products": 3, "categories": 2, "clusters": 1}
    monkeypatch.setattr(
        "api.management.commands.import_catalogue.batch_limit", lambda resource: limits[resource]
    )
    sizes = []
    upsert = importing.upsert_batch

    def spy(resource, items, lookup_key, **kwargs):
        sizes.append((resource, len(items)))
        return upsert(resource, items, lookup_key, **kwargs)

    monkeypatch.setattr("api.management.commands.import_catalogue.upsert_batch", spy)
    rows = [category_row(f"C-{n}", f"Category {n}") for n in range(1, 4)]
    rows += [product_row(f"P-{n}", f"Valve {n}", parent=f"C-{n % 3 + 1}") for n in range(7)]
    path = write_ndjson(tmp_path / "rows.ndjson", rows)

    output = run("import_catalogue", str(path), batch_size=50)

    assert "Total: 10 created" in output
    assert sizes == [
        ("categories", 2),
        ("categories", 1),
        ("products", 3),
        ("products", 3),
        ("products", 1),
    ]


def test_directives_and_dry_run_reach_the_engine(catalogue_file):
    run("import_catalogue", str(catalogue_file))
    rows = [json.loads(line) for line in catalogue_file.read_text().splitlines()]
    rows[2]["names"] = [{"language": "EN", "value": "Renamed"}]
    rows[2]["sku"] = "NEW"
    write_ndjson(catalogue_file, rows)

    run("import_catalogue", str(catalogue_file), dry_run=True)
    assert Product.objects.get(sources__source_id="P-1").sku == ""

    run("import_catalogue", str(catalogue_file), directives='{"skipIfNotEmpty": ["names"]}')
    product = Product.objects.get(sources__source_id="P-1")
    assert (product.name_en, product.sku) == ("Brass valve", "NEW")


def test_an_unknown_lookup_key_fails_before_reading(catalogue_file):
    _, error = run_failing("import_catalogue", str(catalogue_file), lookup_key="sku")

    assert "--lookup-key sku is not a bulk key of categories" in error


def test_progress_lines_without_a_terminal(catalogue_file):
    output = run("import_catalogue", str(catalogue_file), progress_interval=0)

    lines = re.findall(r"^Importing catalogue\.ndjson: \d+ rows \(\d+%\), \d+ rows/s", output, re.M)
    assert len(lines) == 5  # one per row read: no bar, no carriage returns
    assert "\r" not in output


def test_progress_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def write(self, text, ending="\n"):
            return super().write(text + ending)

    stream = Terminal()
    progress = Progress(stream, label="Importing", terminal=True, interval=0)

    progress.update(500, 0.25)
    progress.finish(2000)

    text = stream.getvalue()
    assert text.startswith("\rImporting [#######.......................]  25% 500 rows")
    assert "rows/s ETA 0:00:0" in text
    assert text.count("\x1b[K") == 2  # each redraw clears the rest of the line
    assert "100% 2,000 rows" in text


# The adapter answers exactly as the bulk endpoint ---------------------------------------------


def test_upsert_batch_results_equal_the_bulk_endpoint(api):
    items = [
        {"source": "erp", "sourceId": "A", "names": [{"language": "EN", "value": "A"}]},
        {"source": "erp", "sourceId": "B", "names": [{"language": "XX", "value": "B"}]},
        {"sourceId": "C", "names": [{"language": "EN", "value": "C"}]},
        {"source": "erp", "sourceId": "A", "names": [{"language": "EN", "value": "A2"}]},
    ]
    via_api = api.post("/v2/products/bulk/sourceId", {"products": items}).json()["data"]
    Product.objects.all().delete()

    via_adapter = importing.upsert_batch("products", items, "sourceId")

    def without_ids(results):
        return [{k: v for k, v in r.items() if k != "id"} for r in results]

    assert without_ids(via_adapter) == without_ids(via_api)
    assert via_adapter.unchanged == frozenset()
    again = importing.upsert_batch("products", items[:1], "sourceId")
    assert again.unchanged == {0}


def test_delete_batch_results_equal_the_bulk_endpoint(api):
    importing.upsert_batch(
        "products",
        [{"source": "erp", "sourceId": "A", "names": [{"language": "EN", "value": "A"}]}],
        "sourceId",
    )
    refs = [{"source": "erp", "sourceId": "A"}, {"source": "erp", "sourceId": "Z"}]

    via_adapter = importing.delete_batch("products", refs, "sourceId")
    via_api = api.post("/v2/products/bulk/sourceId/delete", {"products": refs}).json()["data"]

    assert [r["action"] for r in via_adapter] == ["delete", "error"]
    assert via_adapter[1] == via_api[1]


# Export -------------------------------------------------------------------------------------


def test_export_ndjson_streams_records_with_their_type(catalogue_file, tmp_path):
    run("import_catalogue", str(catalogue_file))
    target = tmp_path / "out.ndjson"

    output = run("export_catalogue", output=str(target))

    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["category"] * 2 + ["product"] * 3
    assert [line["sourceId"] for line in lines] == ["C-1", "C-2", "P-1", "P-2", "P-3"]
    assert "Exported 5 records" in output


def test_export_applies_the_list_filters(catalogue_file, tmp_path):
    run("import_catalogue", str(catalogue_file))
    target = tmp_path / "t.ndjson"

    run("export_catalogue", output=str(target), resource=["products"], filter=["statuses=T"])

    assert [json.loads(line)["sourceId"] for line in target.read_text().splitlines()] == ["P-3"]
    _, error = run_failing("export_catalogue", output=str(target), filter=["bogus=1"])
    assert error == "bogus: unknown filter"


@pytest.mark.parametrize("extension", ["ndjson", "csv"])
def test_an_export_imports_back_unchanged_and_into_an_empty_catalogue(
    catalogue_file, tmp_path, extension
):
    run("import_catalogue", str(catalogue_file))
    target = tmp_path / f"export.{extension}"
    run("export_catalogue", output=str(target))
    before = sorted(Product.objects.values_list("name_en", "name_nl", "weight", "attributes"))

    output = run("import_catalogue", str(target))
    assert "Total: 0 created, 0 updated, 5 unchanged" in output

    Product.objects.all().delete()
    for level in (1, 0):  # children before their parents
        Category.objects.filter(level=level).delete()
    output = run("import_catalogue", str(target))
    assert "Total: 5 created" in output
    after = sorted(Product.objects.values_list("name_en", "name_nl", "weight", "attributes"))
    assert after == before
    assert Category.objects.get(sources__source_id="C-2").parent.name_en == "Valves"


# Demo data ----------------------------------------------------------------------------------


def test_seed_demo_loads_a_small_catalogue_and_converges():
    output = run("seed_demo")

    assert "Demo categories: 20 created" in output
    assert "Demo products: 60 created" in output
    assert Category.objects.filter(parent=None).count() == 4
    product = Product.objects.get(sources__source_id="PRD-001")
    assert all([product.name_en, product.name_nl, product.name_de, product.name_fr])
    assert {a["name"] for a in product.attributes} == {"SIZE", "BRAND"}
    assert product.sources.count() == 2
    assert product.categories.get().level == 1

    run("seed_demo")
    assert (Category.objects.count(), Product.objects.count()) == (20, 60)


def test_benchmark_import_file_with_one_bad_row_in_a_hundred(tmp_path):
    path = tmp_path / "import.ndjson"
    run("import_file", str(path), products=200, categories=3, bad_share=0.01)

    output, error = run_failing("import_catalogue", str(path))

    assert "categories: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert "products: 198 created, 0 updated, 0 unchanged, 0 skipped, 2 failed" in output
    assert "2 row(s) failed" in error
    rejects_path = tmp_path / "import.rejects.ndjson"
    rejects_path.write_text(rejects_path.read_text().replace('"XX"', '"EN"'))
    assert "products: 2 created" in run("import_catalogue", str(rejects_path))
    assert Product.objects.count() == 200


# Clusters -----------------------------------------------------------------------------------


@pytest.fixture
def config_id() -> int:
    from catalogue.models import ClusterConfig

    return ClusterConfig.objects.create(name="shoes").pk


def cluster_row(source_id: str, config: int, products: list[dict], **fields) -> dict:
    return {
        "type": "cluster",
        "source": "erp",
        "sourceId": source_id,
        "code": source_id,
        "clusterConfigId": config,
        "names": [{"language": "EN", "value": f"Cluster {source_id}"}],
        "parent": {"sourceId": "C-1"},
        "products": products,
        "options": [
            {
                "source": "erp",
                "sourceId": f"{source_id}-warranty",
                "names": [{"language": "EN", "value": "Warranty"}],
                "products": [
                    {
                        k: v
                        for k, v in product_row("W-1", "Warranty 2y").items()
                        if k not in ("type", "parent")
                    }
                ],
            }
        ],
        **fields,
    }


def nested_product(source_id: str, size: str) -> dict:
    row = product_row(source_id, f"Shoe {size}", parent=None)
    del row["type"]
    row["attributes"] = [{"name": "SIZE", "value": size}]
    return row


def test_cluster_rows_import_with_their_products_and_options(tmp_path, config_id):
    from catalogue.models import Cluster

    path = write_ndjson(
        tmp_path / "clusters.ndjson",
        [
            category_row("C-1", "Shoes"),
            cluster_row(
                "K-1", config_id, [nested_product("S-40", "40"), nested_product("S-41", "41")]
            ),
        ],
    )

    output = run("import_catalogue", str(path))

    assert "clusters: 1 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    cluster = Cluster.objects.get(code="K-1")
    assert sorted(Product.objects.filter(cluster=cluster).values_list("name_en", flat=True)) == [
        "Shoe 40",
        "Shoe 41",
    ]
    option = cluster.options.get()
    assert list(option.products.values_list("name_en", flat=True)) == ["Warranty 2y"]

    output = run("import_catalogue", str(path))
    assert "clusters: 0 created, 0 updated, 1 unchanged" in output


def test_a_cluster_whose_nested_product_fails_is_rejected_and_imports_once_fixed(
    tmp_path, config_id
):
    from catalogue.models import Cluster

    bad = nested_product("S-42", "42")
    bad["status"] = "bogus"
    path = write_ndjson(
        tmp_path / "clusters.ndjson",
        [
            category_row("C-1", "Shoes"),
            cluster_row("K-1", config_id, [nested_product("S-40", "40"), bad]),
        ],
    )

    output, error = run_failing("import_catalogue", str(path))

    assert "clusters: 0 created, 0 updated, 0 unchanged, 0 skipped, 1 failed" in output
    assert "1 row(s) failed" in error
    rejects = path.with_name("clusters.rejects.ndjson")
    rejected = json.loads(rejects.read_text())
    assert any(
        message.startswith("products[1]: ")
        for problem in rejected["_errors"]
        for message in problem["messages"]
    )
    assert Product.objects.filter(cluster__code="K-1").count() == 1  # the good one is written

    rejected["products"][1]["status"] = "A"
    write_ndjson(rejects, [rejected])
    output = run("import_catalogue", str(rejects))
    assert "clusters: 0 created, 1 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert Product.objects.filter(cluster=Cluster.objects.get(code="K-1")).count() == 2


def test_an_export_with_clusters_imports_back_unchanged(tmp_path, config_id):
    path = write_ndjson(
        tmp_path / "clusters.ndjson",
        [
            category_row("C-1", "Shoes"),
            cluster_row("K-1", config_id, [nested_product("S-40", "40")]),
        ],
    )
    run("import_catalogue", str(path))
    target = tmp_path / "export.ndjson"

    run("export_catalogue", output=str(target))

    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["category", "product", "product", "cluster"]
    shoe = next(line for line in lines if line["sourceId"] == "S-40")
    assert shoe["parent"] == {"clusterId": shoe["clusterId"]}
    output = run("import_catalogue", str(target))
    assert "Total: 0 created, 0 updated, 4 unchanged" in output
    assert Product.objects.get(sources__source_id="S-40").cluster_id == shoe["clusterId"]
