"""The Online and Experiments pages in a real browser (Debian's chromium through playwright, as test_browser.py),
against a real `python -m app` server holding a small seeded shop with one tiny trained version: answers
requested and clicked through the API show up as figures and an SVG curve with the activation marked; a
server with no answer shows the empty state; an experiment is started, watched and stopped by clicks (once
the experiments API is in the service)."""

import importlib.util
import os
import time
from pathlib import Path

import httpx
import pytest

from scripts.lib.service import Api, seed_dataset, wait_job
from tests.dashboard.test_browser import WRITE, Watched, browser  # noqa: F401 (browser: the fixture)

pytestmark = pytest.mark.e2e
HAS_EXPERIMENTS = importlib.util.find_spec("app.api.routes.experiments") is not None


def serve(tmp, **extra: str) -> Api:
    env = {**os.environ, "SEMREC_DATABASE_URL": f"sqlite:///{tmp / 'semrec.db'}", "SEMREC_DATA_DIR": str(tmp / "var"),
           "SEMREC_API_KEYS": f"{WRITE}:write", "SEMREC_IMPRESSIONS_FLUSH_SECONDS": "0.2", **extra}
    return Api(env, tmp / "server.log").wait_ready()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A seeded shop (80 items, 60 users) and one quickly trained version, which serves."""
    api = serve(tmp_path_factory.mktemp("online"))
    try:
        http = httpx.Client(base_url=api.base, headers={"X-API-Key": WRITE}, timeout=60)
        seed_dataset(http, users=60, items=80, events=1200)
        started = http.post("/v1/training/jobs", json={"objective": "ranking", "epochs": 2}).json()
        job = wait_job(http, started["job_id"], timeout=600)
        assert job["status"] == "succeeded", job
        yield {"base": api.base, "http": http, "version": job["result"]["model_version"]}
    finally:
        api.terminate(timeout=30)


def answered(http: httpx.Client, users: int = 6) -> dict:
    """Lists for a few shoppers, a click on each list's first item and a purchase of one, credited by id; the
    figures once the service counts them all."""
    for u in range(users):
        answer = http.get(f"/v1/users/u{u}/recommendations", params={"k": 5}).json()
        first = answer["items"][0]["item_id"]
        events = [{"user_id": f"u{u}", "item_id": first, "type": "click", "event_id": f"dash-click-{u}",
                   "recommendation_id": answer["recommendation_id"]}]
        if u == 0:
            events.append({"user_id": "u0", "item_id": first, "type": "purchase", "event_id": "dash-buy-0",
                           "recommendation_id": answer["recommendation_id"]})
        r = http.post("/v1/interactions", json={"interactions": events})
        assert r.status_code == 200 and r.json()["attributed"]["recommendation_id"] == len(events), r.text
    for _ in range(100):  # the impressions reach the store within a flush interval
        groups = http.get("/v1/metrics/online", params={"by": "version"}).json()["groups"]
        if groups and groups[0]["impressions"] >= 5 * users and groups[0]["clicks"] >= users:
            return groups[0]
        time.sleep(0.2)
    raise AssertionError(f"impressions not counted: {groups}")


@pytest.fixture
def watched(browser, shop):  # noqa: F811 (the imported fixture)
    w = Watched(browser, shop["base"])
    yield w
    w.context.close()


def test_the_online_page_shows_figures_and_ctr_curves_with_the_activation_marked(watched, shop):
    group = answered(shop["http"])
    version = shop["version"]
    assert group["key"] == version
    watched.sign_in(WRITE)
    watched.open("online")
    page = watched.page
    row = page.locator("main table tbody tr", has_text=version)
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == f"{group['impressions']:,}" and cells[2] == str(group["clicks"]) and cells[4] == "1"
    assert cells[5].startswith(f"{100 * group['ctr']:.2f}%") and "–" in cells[5]  # the CTR and its interval
    curve = page.locator(f"svg.curves g.curve[data-name='{version}']")
    assert curve.count() == 1 and curve.locator("circle").count() >= 1  # one point per hour with impressions
    marker = page.locator(f"svg.curves g.activation[data-label='{version}']")
    assert marker.count() == 1 and marker.locator("line").count() == 1 and marker.text_content() == version
    assert version in page.locator("svg.curves").get_attribute("aria-label")
    if os.environ.get("SEMREC_DASHBOARD_SHOTS"):  # the docs' picture, as test_browser.py's
        page.screenshot(path=str(Path(os.environ["SEMREC_DASHBOARD_SHOTS"]) / "online.png"), full_page=True)
    # Another grouping from the controls: by route, per day
    page.get_by_label("Group by").select_option("route")
    page.get_by_label("Per", exact=True).select_option("day")
    page.get_by_role("button", name="Show").click()
    page.wait_for_function("() => location.hash.includes('by=route') && document.body.dataset.ready === 'online'")
    assert page.locator("main table tbody tr", has_text="recommendations").count() == 1
    assert page.locator("svg.curves g.curve[data-name='recommendations'] circle").count() == 1
    assert watched.errors == [] and watched.off_machine() == []


def test_the_online_page_says_so_when_nothing_was_shown_yet(browser, tmp_path):  # noqa: F811
    api = serve(tmp_path)
    w = Watched(browser, api.base)
    try:
        w.sign_in(WRITE)
        w.open("online")
        assert "No impressions" in w.page.inner_text("main") and w.page.locator("svg.curves").count() == 0
        assert w.page.locator("#page .error").count() == 0 and w.errors == [] and w.off_machine() == []
    finally:
        w.context.close()
        api.terminate(timeout=30)


@pytest.mark.skipif(not HAS_EXPERIMENTS, reason="the experiments API (app.api.routes.experiments) is not in this build")
def test_an_experiment_started_watched_and_stopped_by_clicks(watched, shop):
    http, version = shop["http"], shop["version"]
    watched.sign_in(WRITE)
    watched.open("experiments")
    page = watched.page
    page.get_by_label("Experiment id").fill("dash-exp")
    page.get_by_label("Method", exact=True).select_option("ab")
    page.get_by_label("Metric", exact=True).select_option("ctr")
    page.locator("#variant-1-model").select_option(version)
    page.locator("#variant-1-diversity").fill("0.3")
    page.get_by_role("button", name="Add variant").click()
    page.locator("#variant-2-name").fill("c")
    page.locator("#variant-2-rules").uncheck()
    page.locator("#route-recommendations").check()
    page.locator("#route-session").check()
    page.get_by_label("Minimum lift (relative, e.g. 0.1)").fill("0.2")
    page.get_by_label("Base rate (empty: measured)").fill("0.05")
    page.get_by_role("button", name="Start experiment").click()
    try:
        page.wait_for_selector("text=Experiment dash-exp started.")
        e = http.get("/v1/experiments/dash-exp").json()
        assert e["method"] == "ab" and e["metric"] == "ctr" and sorted(e["routes"]) == ["recommendations", "session"]
        assert [v["name"] for v in e["variants"]] == ["a", "b", "c"] and e["status"] in ("scheduled", "running")
        b, c = e["variants"][1], e["variants"][2]
        assert b["model_version"] == version and b["params"]["diversity"] == 0.3 and c["params"]["rules"] is False
        # Lists shown while the page watches: its figures follow without a reload
        for u in range(4):
            assert http.get(f"/v1/users/u{u}/recommendations", params={"k": 5}).json()["variant"] in ("a", "b", "c")
        page.wait_for_function("() => [...document.querySelectorAll('main tbody tr')].some((r) => "
                               "Number(r.cells[4].textContent.replace(/,/g, '')) > 0)", timeout=15_000)
        assert "none yet — " in page.inner_text("main")  # far from the planned sample
        page.get_by_role("link", name="All experiments").click()
        page.wait_for_selector("body[data-ready='experiments'] main table")
        row = page.locator("main tr", has_text="dash-exp")
        assert "ab" in row.inner_text() and row.locator("progress").count() == 1
        row.get_by_role("link", name="dash-exp").click()
        page.wait_for_selector("#stop-experiment")
        page.get_by_role("button", name="Stop").click()
        page.get_by_role("button", name="Cancel").click()  # a cancelled confirmation changes nothing
        assert http.get("/v1/experiments/dash-exp").json()["status"] in ("scheduled", "running")
        page.get_by_role("button", name="Stop").click()
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_selector("text=Experiment dash-exp stopped.")
        assert http.get("/v1/experiments/dash-exp").json()["status"] == "stopped"
        assert page.get_by_role("button", name="Stop").is_hidden()
    finally:
        http.post("/v1/experiments/dash-exp/stop")
    assert watched.errors == [] and watched.off_machine() == []
