"""The statistics page in real Chromium: a manager's landing page, last month's figures,
charts and tables as the API counts them, the CSV download, the page on a phone, and the
live part following a desk's call without a reload and without asking the server again."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from test_pages_day import keep_screenshot

from queue_app.rules import history
from queue_app.storage.db import connect

from conftest import PHONE, WAIT_MS

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

CHARTS = ("waits", "flow", "inside", "offices", "desks", "target")


def catalan(number):
    """A whole number as the page writes it in Catalan (Intl.NumberFormat("ca"))."""
    return f"{number:,}".replace(",", ".")


def last_month():
    first = date.today().replace(day=1)
    end = first - timedelta(days=1)
    return end.replace(day=1), end


@pytest.fixture
def town(live):
    """The demo with the 45 working days before today behind it."""
    db = connect(live.path)
    history.seed_history(db, 45, per_day=300)
    db.close()
    return live


def charts_drawn(page):
    """Wait until every chart of the page has a Chart.js chart on its canvas."""
    page.wait_for_function(
        "names => names.every(name => window.Chart.getChart("
        "document.querySelector(`#chart-${name} canvas`)))",
        arg=list(CHARTS),
    )


def choose(page, preset):
    page.click(f"label:has(input[name=preset][value={preset}])")


def test_last_months_statistics_and_the_service_now(town, people, tmp_path):
    manager = people.log_in("gestor")
    expect(manager).to_have_url(town.url + "/stats")
    expect(manager.locator("[data-live]")).to_have_class(re.compile("online"))
    expect(manager.locator("#now-offices tbody tr")).to_have_count(5)
    expect(manager.locator("#now-desks li")).to_have_count(8)
    asked = []
    manager.on("request", lambda request: asked.append(request.url))

    choose(manager, "last_month")
    start, end = last_month()
    query = f"from={start}&to={end}"
    month = town.api("manager", "GET", f"/stats?{query}&group=day", expect=200)
    totals = month["totals"]
    expect(manager.locator("#range-said")).to_have_text(f"Del {start} al {end}")
    figure = manager.locator('[data-figure="issued"] .value')
    expect(figure).to_have_text(catalan(totals["issued"]))
    expect(manager.locator('[data-figure="served"] .value')).to_have_text(catalan(totals["served"]))
    expect(manager.locator('[data-figure="wait_p50_s"] .value')).to_have_text(
        f"{round(totals['wait_p50_s'] / 60)} min"
    )
    expect(manager.locator('[data-figure="within_target"] .value')).to_have_text(
        f"{round(totals['within_target'] * 100)}\u00a0%"
    )
    charts_drawn(manager)
    expect(manager.locator("#table-office tbody tr")).to_have_count(5)
    expect(manager.locator("#table-day tbody tr")).to_have_count(len(month["rows"]))
    first_day = manager.locator("#table-day tbody tr").first
    expect(first_day.locator("th")).to_have_text(month["rows"][0]["key"])
    expect(first_day.locator("td").first).to_have_text(catalan(month["rows"][0]["issued"]))
    manager.evaluate("document.querySelector('.range').scrollIntoView()")  # figures, charts
    keep_screenshot(manager, "stats.png", in_docs=True)

    # The CSV of the same period, by office, with semicolons for a Catalan spreadsheet.
    with manager.expect_download() as download:
        manager.click('#downloads a[data-group="office"]')
    saved = tmp_path / "office.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0].startswith("key;issued;served;no_show")
    assert [line.split(";")[0] for line in lines[1:]] == ["OAC", "OMIC", "OFIM", "HAB", "ORGT"]

    # The service now: a ticket issued and called shows up in the live part at once.
    loaded = [url for url in asked if "/api/v1/" in url]
    ticket = town.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    oac = manager.locator('#now-offices tr[data-office="OAC"]')
    expect(oac.locator("td.waiting")).to_have_text("1")
    town.api("clerk", "POST", "/desks/1/call-next", expect=200)
    desk = manager.locator('#now-desks li[data-desk="1"]')
    expect(desk.locator(".state")).to_have_text(f"Atenent {ticket['code']}")
    expect(oac.locator("td.waiting")).to_have_text("0")
    # The page counts the minutes on by itself (no request): wait for it to tick.
    expect(desk.locator(".since")).to_have_text(re.compile(r"^fa [1-9]\d* s$"))
    assert [url for url in asked if "/api/v1/" in url] == loaded  # last month: no new figures

    # Today's figures follow the day as it goes, still without a reload.
    choose(manager, "today")
    expect(figure).to_have_text("1")
    town.api("reception", "POST", "/tickets", {"office": "OMIC"}, expect=201)
    expect(figure).to_have_text("2")
    expect(manager.locator('#now-offices tr[data-office="OMIC"] td.waiting')).to_have_text("1")


def test_the_statistics_on_a_phone(town, people):
    manager = people.log_in("gestor", viewport=PHONE)
    choose(manager, "last_month")
    charts_drawn(manager)
    width = manager.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the screen: no sideways scrolling
    manager.evaluate("document.querySelector('#chart-waits').scrollIntoView()")
    keep_screenshot(manager, "stats-phone.png", in_docs=True)
