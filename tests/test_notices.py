"""Citizen notices by SMS (contract v2): phones at issue, the messages a change calls for
(near the front, called), their texts, the outbox's tries against a fake gateway that
fails, hangs or answers garbage, and the phones' erasure at the day's end. The sender is
driven here one round at a time (``send_due``); test_notices_live.py runs it in a server."""

import json
from datetime import timedelta

import pytest

from queue_app import create_app
from queue_app.clock import utcnow
from queue_app.live import sms
from queue_app.rules import notices
from queue_app.rules.day import ensure_today
from queue_app.storage.db import connect, get_db

from conftest import APP_CONFIG, Api, restore_demo
from helpers import db_state


@pytest.fixture
def town(template, tmp_path, gateway, tokens):
    """The demo with SMS notices on (no server process, so no sender running: ``town.send()``
    runs one round)."""
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    app = create_app({**APP_CONFIG, "DATABASE": path, "SMS_WEBHOOK": gateway.url})

    class Town:
        api = Api(app.test_client(), tokens)
        sender = app.extensions["torn.sms"]
        db = connect(path)

        def issue(self, office="OAC", **extra):
            answer = self.api.as_("reception").post("/tickets", {"office": office, **extra})
            assert answer.status_code == 201, answer.get_json()
            return answer.get_json()

        def call(self, desk=1):
            return self.api.as_("clerk").post(f"/desks/{desk}/call-next").get_json()

        def send(self):
            with app.app_context():
                return self.sender.send_due()

        def outbox(self):
            return [
                tuple(row)
                for row in self.db.execute(
                    "SELECT t.code, o.kind, o.sent_at IS NOT NULL, o.dropped_at IS NOT NULL"
                    " FROM outbox o JOIN tickets t ON t.id = o.ticket_id ORDER BY o.id"
                )
            ]

    yield Town()
    Town.db.close()
    notices.configure(False, 3)


@pytest.mark.parametrize(
    "given, kept",
    [
        ("612 345 678", "+34612345678"),
        ("93-123-45-67", "+34931234567"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0044 7700 900123", "+447700900123"),
    ],
)
def test_a_phone_is_kept_in_international_form(given, kept):
    assert notices.sms_number(given) == kept


@pytest.mark.parametrize(
    "given", ["6123 4567 8a", "12345", "123456789", "+", "☎ 612345678", 612345678]
)
def test_a_phone_that_is_not_one_is_refused(given):
    from queue_app.rules.errors import InvalidInput

    with pytest.raises(InvalidInput):
        notices.sms_number(given)


def test_a_bad_phone_or_language_at_issue_is_refused_and_writes_nothing(town):
    before = db_state(town.db, ["tickets", "outbox"])
    for body in ({"phone": "call me"}, {"phone": "555"}, {"language": "xx"}, {"language": 3}):
        answer = town.api.as_("reception").post("/tickets", {"office": "OAC", **body})
        assert answer.status_code == 400 and answer.get_json()["error"]["message"]
    assert db_state(town.db, ["tickets", "outbox"]) == before


def test_near_at_issue_then_called_each_once_and_only_with_a_phone(town, gateway):
    town.issue()  # no phone: never a message
    mine = town.issue(phone="612 345 678", language="en")  # one ahead: already near
    assert town.outbox() == [(mine["code"], "near", 0, 0)]
    assert town.send() == 1
    [near] = gateway.received
    assert near == {
        "to": "+34612345678",
        "text": f"Torn {mine['code']}: 1 person ahead of you at Citizen Service Office."
        " Please come back to the waiting room.",
        "ticket": mine["code"],
    }
    assert gateway.tries[0]["headers"]["Idempotency-Key"].startswith("torn-")
    town.call()  # the first one
    town.call(2)  # mine
    assert town.send() == 1 and town.send() == 0
    called = gateway.received[-1]
    assert called["text"] == f"Torn {mine['code']}: it is your turn. Please go to Taulell 2."
    assert town.outbox() == [(mine["code"], "near", 1, 0), (mine["code"], "called", 1, 0)]
    # A recall sends nothing more.
    town.api.as_("clerk").post(f"/tickets/{mine['id']}/recall")
    assert town.send() == 0 and len(gateway.received) == 2


def test_near_comes_when_the_queue_reaches_it_not_before(town, gateway):
    for _ in range(5):
        town.issue()
    mine = town.issue(phone="+34 699 000 111", language="es")  # five ahead
    assert town.outbox() == []
    town.call()
    assert town.outbox() == []  # four ahead
    town.call(2)
    assert town.outbox() == [(mine["code"], "near", 0, 0)]  # three ahead: near
    town.call(3)
    assert len(town.outbox()) == 1  # once
    town.send()
    assert gateway.received[0]["text"] == (
        f"Turno {mine['code']}: 2 personas delante de usted en Oficina de Atención Ciudadana."
        " Vuelva a la sala de espera."
    )


def test_messages_speak_the_citizens_languages_with_the_english_names(town, gateway):
    """A newcomer's messages are in French (any language the ticket's page speaks), with
    the desk's English name, as that page shows it."""
    town.api.as_("admin").patch("/desks/2", {"names": {"en": "Desk 2"}})
    mine = town.issue(phone="612 345 678", language="fr")
    town.call(2)
    town.send()
    assert gateway.received[-1]["text"] == (
        f"Ticket {mine['code']}\u00a0: c'est à vous. Veuillez vous présenter à Desk 2."
    )


def test_the_phone_never_reaches_the_journal_or_the_ticket_shown(town):
    mine = town.issue(phone="612 345 678")
    assert "612" not in json.dumps(mine)
    journal = " ".join(row[0] for row in town.db.execute("SELECT payload FROM events"))
    assert "612345678" not in journal and "+34" not in journal
    shown = town.api.get(f"/tickets/{mine['token']}").get_json()
    assert "phone" not in shown


@pytest.mark.parametrize("mode", ["fail", "garbage", "hang"])
def test_a_gateway_that_does_not_accept_gets_the_message_again_later_once(
    town, gateway, monkeypatch, mode
):
    monkeypatch.setattr(sms, "TIMEOUT_S", 0.5)
    mine = town.issue(phone="612 345 678")
    gateway.mode = mode
    assert town.send() == 1  # tried, not accepted
    assert gateway.received == [] and town.outbox() == [(mine["code"], "near", 0, 0)]
    error, due = town.db.execute("SELECT last_error, due_at FROM outbox").fetchone()
    assert error and "612" not in error
    assert due > utcnow().isoformat()  # due again later: not retried at once
    assert town.send() == 0
    gateway.mode = "ok"
    gateway.released.set()
    town.db.execute("UPDATE outbox SET due_at = '2000-01-01T00:00:00+00:00'")  # time passes
    town.db.conn.commit()
    assert town.send() == 1 and town.send() == 0
    assert [body["ticket"] for body in gateway.received] == [mine["code"]]


def test_a_slow_gateway_within_the_timeout_gets_the_message_once(town, gateway, monkeypatch):
    monkeypatch.setattr(sms, "TIMEOUT_S", 2.0)
    gateway.mode = "slow"
    mine = town.issue(phone="612 345 678")
    assert town.send() == 1 and town.send() == 0
    assert [body["ticket"] for body in gateway.received] == [mine["code"]]
    assert town.outbox() == [(mine["code"], "near", 1, 0)]


def test_the_wait_between_tries_grows_to_a_bound():
    waits = [notices.retry_after(attempt) for attempt in range(1, 12)]
    assert waits[:4] == [2, 4, 8, 16] and max(waits) == notices.RETRY_MAX_S


def test_a_message_no_longer_true_is_dropped_not_sent(town, gateway):
    mine = town.issue(phone="612 345 678")
    town.call()  # called before the "near" went out: the "near" is dropped
    town.api.as_("clerk").post(f"/tickets/{mine['id']}/start")  # and is served already
    assert town.send() == 0 and gateway.tries == []
    assert town.outbox() == [(mine["code"], "near", 0, 1), (mine["code"], "called", 0, 1)]


def test_phones_are_erased_when_the_day_ends(town, gateway):
    mine = town.issue(phone="612 345 678")
    town.issue(phone="699 000 111")
    gateway.mode = "fail"
    town.send()
    ensure_today(town.db, utcnow() + timedelta(days=1))
    assert (
        town.db.execute("SELECT COUNT(*) FROM tickets WHERE phone IS NOT NULL").fetchone()[0] == 0
    )
    assert all(dropped for *_, dropped in town.outbox())
    assert mine["code"] in {code for code, *_ in town.outbox()}


def test_without_a_gateway_no_phone_is_kept(api, app):
    issued = api.as_("reception").post("/tickets", {"office": "OAC", "phone": "612 345 678"})
    assert issued.status_code == 201
    with app.app_context():
        db = get_db()
        assert db.execute("SELECT phone FROM tickets").fetchall()[0][0] is None
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
