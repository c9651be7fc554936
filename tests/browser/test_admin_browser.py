"""A staff member's afternoon in the admin, in a real browser, checked against the API after.

Runs Debian's Chromium through Playwright (no browser download); skipped when no `chromium`
is installed. Each step leaves a screenshot in .data/browser-screenshots/.
"""

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from catalogue.models import Category, Product
from tests.factories import make_api_caller, make_category

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".data" / "browser-screenshots"
PASSWORD = "a long passphrase"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` on PATH (apt-get install -y chromium)"
)


@pytest.fixture
def browser_page():
    # Playwright's synchronous API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def api_get(base: str, path: str, token: str) -> dict:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def test_staff_build_a_category_and_product_then_the_api_shows_them(live_server, browser_page):
    page, base = browser_page, live_server.url
    get_user_model().objects.create_superuser("editor", "editor@example.com", PASSWORD)
    tools = make_category("Tools")
    garden = make_category("Garden")
    caller = make_api_caller(["category.read", "product.read"])

    # 1. Sign in.
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    shot(page, "01-signed-in")

    # 2. A category under Tools, with a Dutch name.
    page.goto(f"{base}/admin/catalogue/category/add/")
    page.fill("#id_name_en", "Valves")
    page.click('a[href="#tab_id_name_nl"]')
    page.fill("#id_name_nl", "Kranen")
    page.select_option("#id_parent", label="Tools")
    shot(page, "02-category-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    valves = Category.objects.get(name_en="Valves")
    assert (valves.parent_id, valves.name_nl) == (tools.pk, "Kranen")
    shot(page, "03-category-saved")

    # 3. A product in it, with two attributes.
    page.goto(f"{base}/admin/catalogue/product/add/")
    page.fill("#id_name_en", "Brass ball valve")
    page.click('a[href="#tab_id_name_nl"]')
    page.fill("#id_name_nl", "Messing kogelkraan")
    page.fill("#id_sku", "BV-15")
    page.select_option("#id_primary_category", label="Tools \u203a Valves")
    names = page.locator('input[name="attributes_name"]')
    values = page.locator('input[name="attributes_value"]')
    names.nth(0).fill("MATERIAL")
    values.nth(0).fill("brass")
    names.nth(1).fill("SIZE")
    values.nth(1).fill("DN15")
    shot(page, "04-product-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    product = Product.objects.get(sku="BV-15")
    shot(page, "05-product-saved")

    # 4. The admin search finds it by its Dutch name.
    page.goto(f"{base}/admin/catalogue/product/")
    page.fill("#searchbar", "kogelkraan")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Brass ball valve" in rows.first.inner_text()
    assert "Tools \u203a Valves" in rows.first.inner_text()
    shot(page, "06-search-by-dutch-name")

    # 5. Drag Valves from Tools onto Garden in the tree.
    page.goto(f"{base}/admin/catalogue/category/")
    page.wait_for_selector("#result_list")
    expand = page.get_by_text("Expand tree")
    if expand.count():
        expand.first.click()
    handle = (
        page.locator(f'.tree-node[data-pk="{valves.pk}"]')
        .locator("xpath=..")
        .locator(".drag-handle")
    )
    target = page.locator(f'.tree-node[data-pk="{garden.pk}"]').locator("xpath=ancestor::tr")
    shot(page, "07-tree-before-drag")
    start, box = handle.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    # Onto the middle third of Garden's row: "make it a child".
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(middle[0], middle[1] - 4, steps=8)
    page.mouse.move(*middle, steps=4)
    with page.expect_response(lambda r: r.request.method == "POST" and "/category/" in r.url):
        page.mouse.up()
    page.wait_for_selector(".messagelist .success")
    assert "Valves has been successfully moved." in page.locator(".messagelist").inner_text()
    assert Category.objects.get(pk=valves.pk).parent_id == garden.pk
    shot(page, "08-tree-after-drag")

    # 6. An invalid slug is a form error, and nothing changes.
    page.goto(f"{base}/admin/catalogue/category/{valves.pk}/change/")
    page.click('a[href="#tab_id_slug_en"]')
    page.fill("#id_slug_en", "Not A Slug!")
    page.click("input[name=_save]")
    page.wait_for_selector(".errorlist")
    assert "invalid slug" in page.locator(".errorlist").first.inner_text()
    assert Category.objects.get(pk=valves.pk).slug_en == "valves"
    shot(page, "09-invalid-slug")

    # 7. The API serves the new state.
    category = api_get(base, f"/v2/categories/id/{valves.pk}", caller.token)["data"]
    assert category["parent"] == {"id": garden.pk}
    assert {n["language"]: n["value"] for n in category["names"]} == {
        "EN": "Valves",
        "NL": "Kranen",
    }
    found = api_get(base, "/v2/products?term=kogelkraan", caller.token)["data"]
    assert [row["id"] for row in found] == [product.pk]
    assert found[0]["attributes"] == [
        {"name": "MATERIAL", "value": "brass"},
        {"name": "SIZE", "value": "DN15"},
    ]
    assert found[0]["parent"] == {"id": valves.pk}
