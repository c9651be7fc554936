import pytest

from catalogue.models import Category, Product


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("staff", "s@example.com", "x"))
    return client


def test_admin_pages(staff):
    for path in [
        "/admin/catalogue/category/add/",
        "/admin/catalogue/product/add/",
        "/admin/catalogue/product/",
        "/admin/catalogue/category/",
    ]:
        r = staff.get(path)
        assert r.status_code == 200, (path, r.content[:2000])


def test_admin_category_create_and_product(staff):
    r = staff.post(
        "/admin/catalogue/category/add/",
        {
            "language": "EN",
            "name_en": "Valves",
            "hidden": "",
            "priority": "0",
            "sources": "erp:C-1",
            "slug_en": "",
        },
    )
    assert r.status_code == 302, r.content.decode()[:5000]
    c = Category.objects.get()
    assert c.slug_en == "valves"
    r = staff.post(
        "/admin/catalogue/category/add/",
        {"language": "EN", "name_en": "X", "priority": "0", "slug_en": "Not A Valid Slug!"},
    )
    assert r.status_code == 200
    assert "invalid slug" in r.content.decode()
    data = {
        "language": "EN",
        "name_en": "Brass valve",
        "status": "A",
        "tax_code": "H",
        "unit": "1",
        "minimum_quantity": "1",
        "package_unit_quantity": "1",
        "priority": "0",
        "orderable": "on",
        "returnable": "on",
        "physical": "on",
        "attributes": '[{"name": "COLOR", "value": "red"}]',
        "primary_category": str(c.pk),
        "sources": "erp:P-1",
    }
    r = staff.post("/admin/catalogue/product/add/", data)
    assert r.status_code == 302, r.content.decode()[:8000]
    p = Product.objects.get()
    assert p.slug_en == "brass-valve"
    assert p.search.text
    data["attributes"] = '{"not": "a list"}'
    r = staff.post(f"/admin/catalogue/product/{p.pk}/change/", data)
    assert r.status_code == 200
    data["attributes"] = '[{"name": "color", "value": "red"}]'
    r = staff.post(f"/admin/catalogue/product/{p.pk}/change/", data)
    assert r.status_code == 200
