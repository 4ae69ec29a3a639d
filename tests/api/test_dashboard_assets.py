"""The dashboard's files as the service serves them (no browser needed): every asset the page names is there,
under the same-origin policy, and nothing points off the machine."""

import re

from app.dashboard import STATIC


def test_the_page_and_every_asset_it_names_are_served_under_the_policy(client):
    page = client.get("/dashboard", headers={"X-API-Key": ""})
    assert page.status_code == 200 and "API key" in page.text
    names = re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', page.text)
    modules = [f"/dashboard/static/js/{p.relative_to(STATIC / 'js')}" for p in (STATIC / "js").rglob("*.js")]
    assert len(names) == 3 and len(modules) == 14  # main, api, ui, charts and a module per page (10)
    for path in names + modules:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        if "/vendor/" not in path:  # our own files name no other origin (Chart.js's name one in comments); the
            # SVG namespace is a name, never fetched
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg\b)", r.text), path
    assert client.get("/dashboard/").headers.get("location", "/dashboard") == "/dashboard"
    assert client.get("/dashboard/static/../../main.py").status_code == 404
    assert "/dashboard" not in client.get("/openapi.json").text  # a page, not part of the API
