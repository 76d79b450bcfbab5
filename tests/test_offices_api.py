"""An office's settings (contract v2, PATCH /offices/<code>): its names per language, how
many priority tickets in a row, its target wait and its default service time; refusals
write nothing; the statistics measure against the target."""

from datetime import timedelta

import pytest

from queue_app.rules import offices, stats, tickets
from queue_app.storage import journal
from queue_app.storage.db import connect

from helpers import T0, db_state


@pytest.fixture
def opened(app):
    db = connect(app.config["DATABASE"])
    yield db
    db.close()


def test_the_offices_list_their_settings(api):
    offices = api.as_("clerk").get("/offices").get_json()
    oac = offices[0]
    assert oac["code"] == "OAC" and oac["name"] == "Oficina d'Atenció Ciutadana"
    assert oac["names"] == {
        "ca": "Oficina d'Atenció Ciutadana",
        "es": "Oficina de Atención Ciudadana",
        "en": "Citizen Service Office",
    }
    assert (oac["priority_every"], oac["target_wait_s"], oac["default_service_s"]) == (0, 900, 300)


def test_an_administrator_changes_some_settings_and_the_rest_stay(api, opened):
    answer = api.as_("admin").patch(
        "/offices/OMIC",
        {"target_wait_s": 600, "priority_every": 3, "names": {"en": "  Consumer   office "}},
    )
    assert answer.status_code == 200
    office = answer.get_json()
    assert (office["target_wait_s"], office["priority_every"]) == (600, 3)
    assert office["default_service_s"] == 300
    assert office["names"]["en"] == "Consumer office"  # spaces tidied
    assert office["names"]["ca"] == office["name"] == "Oficina Municipal d'Informació al Consumidor"
    assert api.as_("clerk").get("/offices").get_json()[1] == office
    [event] = journal.since(opened, journal.last_seq(opened) - 1)
    assert event["type"] == "office_changed" and event["actor"] == "token:test-admin"
    assert event["payload"]["office"]["target_wait_s"] == 600


def test_the_catalan_name_is_the_offices_name(api):
    office = api.as_("admin").patch("/offices/HAB", {"names": {"ca": "Habitatge"}}).get_json()
    assert (
        office["name"] == "Habitatge"
        and office["names"]["es"] == "Oficina Local de Vivienda y SIDH"
    )


def test_the_target_decides_who_was_called_within_it(undated_db):
    db = undated_db
    for minute in (0, 1):
        tickets.issue(db, "OAC", now=T0 + timedelta(minutes=minute))
    tickets.call_next(db, 1, now=T0 + timedelta(minutes=10))  # waited 600 s
    tickets.call_next(db, 2, now=T0 + timedelta(minutes=21))  # waited 1200 s

    def within():
        return stats.compute(db, T0.date(), T0.date())["totals"]["within_target"]

    assert within() == 0.5  # the default target: 900 s
    offices.update(db, "OAC", {"target_wait_s": 300})
    assert within() == 0.0
    offices.update(db, "OAC", {"target_wait_s": 1200})
    assert within() == 1.0


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"priority_every": -1}, 400, "priority_every"),
        ({"priority_every": 10**6}, 400, "priority_every"),
        ({"priority_every": True}, 400, "priority_every"),
        ({"target_wait_s": 0}, 400, "target_wait_s"),
        ({"target_wait_s": "900"}, 400, "target_wait_s"),
        ({"default_service_s": 1.5}, 400, "default_service_s"),
        ({"names": {"ca": ""}}, 400, "120"),
        ({"names": {"ca": "x" * 500}}, 400, "120"),
        ({"names": {"fr": "Bureau"}}, 400, "ca, es, en"),
        ({"names": "OAC"}, 400, "ca, es, en"),
        ({"names": {}}, 400, "ca, es, en"),
        ({"letter": "Z"}, 400, "letter"),
        ([1, 2], 400, "object"),
    ],
)
def test_bad_settings_are_refused_and_write_nothing(api, opened, body, status, says):
    before = db_state(opened, ["offices"])
    answer = api.as_("admin").patch("/offices/OAC", body)
    assert answer.status_code == status
    assert says in answer.get_json()["error"]["message"]
    assert db_state(opened, ["offices"]) == before


def test_an_unknown_office_is_404_and_only_an_administrator_may_change_one(api):
    assert api.as_("admin").patch("/offices/XXX", {"target_wait_s": 600}).status_code == 404
    for role in ("manager", "reception", "clerk", "display"):
        assert api.as_(role).patch("/offices/OAC", {"target_wait_s": 600}).status_code == 403
    assert api.as_("clerk").get("/offices").get_json()[0]["target_wait_s"] == 900
