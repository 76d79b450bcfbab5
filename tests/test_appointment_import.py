"""Importing the booking service's exports (CSV and iCalendar) into appointments."""

from datetime import timedelta

import pytest

from queue_app.rules import appointments, imports, schedules
from queue_app.rules.errors import InvalidInput, UnknownOffice

from helpers import T0, db_state

DAY = timedelta(days=1)
BEFORE = T0 - 7 * DAY


@pytest.fixture
def db(undated_db):
    return undated_db


def snapshot(db):
    return db_state(db, ("appointments", "tickets", "settings", "events"))


def run(db, text, kind="text/csv", **options):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return imports.import_file(db, data, kind, now=BEFORE, **options).value


def counts(result):
    return {key: value for key, value in result.items() if key != "errors"}


CSV = (
    "id;oficina;inici;nom;telèfon;persones\n"
    "ext-1;OAC;2024-06-10 09:00;Núria Puig;600112233;2\n"
    "ext-2;Oficina Municipal d'Informació al Consumidor;2024-06-10T09:15:00+02:00;Joan Martí;;\n"
)


def test_a_csv_imports_by_column_names_in_any_language_and_order(db):
    result = run(db, CSV)
    assert result == {"created": 2, "updated": 0, "unchanged": 0, "cancelled": 0, "errors": []}
    made = appointments.list_day(db, on=T0.date(), now=BEFORE)
    assert [(a["office"], a["name"], a["phone"], a["party_size"]) for a in made] == [
        ("OAC", "Núria Puig", "600112233", 2),
        ("OMIC", "Joan Martí", None, 1),
    ]
    assert {a["source"] for a in made} == {"import"}
    assert [a["external_id"] for a in made] == ["ext-1", "ext-2"]


def test_english_headers_commas_and_a_byte_order_mark(db):
    text = "\ufeffName,Start,ID,Office,Status\nAnna,2024-06-10 09:00,e1,omic,\n"
    assert counts(run(db, text))["created"] == 1


def test_importing_the_same_file_again_changes_nothing(db):
    run(db, CSV)
    before = snapshot(db)
    assert counts(run(db, CSV)) == {"created": 0, "updated": 0, "unchanged": 2, "cancelled": 0}
    assert snapshot(db) == before


def test_a_changed_row_updates_and_a_cancelled_row_cancels(db):
    run(db, CSV)
    changed = CSV.replace("Núria Puig;600112233;2", "Núria Puig i Soler;600112233;3").replace(
        "Joan Martí;;", "Joan Martí;;;cancel·lada"
    )
    changed = changed.replace("persones\n", "persones;estat\n")
    result = run(db, changed)
    assert counts(result) == {"created": 0, "updated": 1, "unchanged": 0, "cancelled": 1}
    made = {a["external_id"]: a for a in appointments.list_day(db, on=T0.date(), now=BEFORE)}
    assert (made["ext-1"]["name"], made["ext-1"]["party_size"]) == ("Núria Puig i Soler", 3)
    assert made["ext-2"]["status"] == "cancelled"


def test_a_moved_appointment_takes_its_new_slot(db):
    run(db, CSV)
    moved = CSV.replace("2024-06-10 09:00", "2024-06-11 10:30")
    assert counts(run(db, moved))["updated"] == 1
    tuesday = appointments.list_day(db, on=T0.date() + DAY, now=BEFORE)
    assert [a["start"] for a in tuesday] == ["2024-06-11T10:30:00+02:00"]


def test_bad_rows_are_reported_by_line_and_the_good_ones_still_import(db):
    text = (
        "id,office,start,name,phone,party_size\n"
        "a,OAC,2024-06-10 09:00,Anna,,\n"
        "b,XXX,2024-06-10 09:00,Bernat,,\n"
        "c,OAC,2024-06-10 09:07,Carme,,\n"
        "d,OAC,not a date,Dídac,,\n"
        "e,OAC,2024-06-10 09:00,,,\n"
        "f,OAC,2024-06-10 09:00,Ferran,call me,\n"
        "g,OAC,2024-06-10 09:00,Gemma,,99\n"
        ",OAC,2024-06-10 09:00,Helena,,\n"
        "i,OAC,2024-06-01 09:00,Irene,,\n"
        "j,OAC,2024-06-10 09:15,Jordi,,\n"
    )
    result = run(db, text)
    assert counts(result)["created"] == 2
    assert [error["line"] for error in result["errors"]] == [3, 4, 5, 6, 7, 8, 9, 10]
    messages = {error["line"]: error["message"] for error in result["errors"]}
    assert "XXX" in messages[3]
    assert "slot" in messages[4]
    assert "start" in messages[5] and "name" in messages[6] and "phone" in messages[7]
    assert "party_size" in messages[8] and "id" in messages[9] and "past" in messages[10]


def test_a_full_slot_is_an_error_of_that_row(db):
    schedules.put(db, "OMIC", {"per_slot": 1}, now=BEFORE)
    text = "id,office,start,name\nx,OMIC,2024-06-10 09:00,Anna\ny,OMIC,2024-06-10 09:00,Berta\n"
    result = run(db, text)
    assert counts(result)["created"] == 1
    assert result["errors"][0]["line"] == 3 and "free place" in result["errors"][0]["message"]


def test_the_office_of_the_file_serves_rows_that_name_none(db):
    text = "id,start,name\nx,2024-06-10 09:00,Anna\n"
    assert run(db, text)["errors"][0]["line"] == 2
    assert counts(run(db, text, office="OFIM"))["created"] == 1
    assert appointments.list_day(db, on=T0.date(), now=BEFORE)[0]["office"] == "OFIM"
    with pytest.raises(UnknownOffice):
        run(db, text, office="XXX")


def test_a_dry_run_counts_what_would_change_and_writes_nothing(db):
    before = snapshot(db)
    result = run(db, CSV + "bad,OAC,nonsense,X\n", dry_run=True)
    assert counts(result) == {"created": 2, "updated": 0, "unchanged": 0, "cancelled": 0}
    assert [error["line"] for error in result["errors"]] == [4]
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "data, kind, words",
    [
        (
            "id;oficina;inici;nom\nx;OAC;2024-06-10 09:00;Núria\n".encode("latin-1"),
            "text/csv",
            "UTF-8",
        ),
        ("oficina;inici\nOAC;2024-06-10 09:00\n", "text/csv", "id, name"),
        ("", "text/csv", "header"),
        ('id,start,name\n"x,2024-06-10 09:00,Anna\n', "text/csv", "Line"),
        ("hello", "text/calendar", "iCalendar"),
        ("BEGIN:VEVENT\nUID:x\nEND:VEVENT\n", "text/calendar", "iCalendar"),
        ("id,start,name\n", "application/json", "CSV"),
        (b"x" * (imports.MAX_BYTES + 1), "text/csv", "MiB"),
    ],
)
def test_a_bad_file_is_refused_whole_with_a_clear_reason(db, data, kind, words):
    before = snapshot(db)
    with pytest.raises(InvalidInput) as refused:
        run(db, data, kind)
    assert words in str(refused.value)
    assert snapshot(db) == before


def test_a_latin_1_file_names_the_line_of_its_first_bad_byte(db):
    data = "id,start,name\nx,2024-06-10 09:00,Anna\ny,2024-06-10 09:15,Núria\n".encode("latin-1")
    with pytest.raises(InvalidInput) as refused:
        run(db, data)
    assert "line 3" in str(refused.value)


# iCalendar ---------------------------------------------------------------------------------


def vevent(uid="u1", start="20240610T090000", extra="", summary="Núria Puig", where="OAC"):
    lines = ["BEGIN:VEVENT"]
    if uid:
        lines.append(f"UID:{uid}")
    lines += [f"DTSTART;TZID=Europe/Madrid:{start}", f"SUMMARY:{summary}"]
    if where:
        lines.append(f"LOCATION:{where}")
    if extra:
        lines.append(extra)
    return "\r\n".join(lines + ["END:VEVENT"])


def calendar(*events):
    return "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//booking//EN", *events, "END:VCALENDAR", ""]
    )


def test_an_ics_imports_its_events_by_uid(db):
    text = calendar(
        vevent(),
        vevent("u2", "20240610T091500", where="", extra="CATEGORIES:OMIC", summary="Joan"),
    )
    result = run(db, text, "text/calendar")
    assert counts(result) == {"created": 2, "updated": 0, "unchanged": 0, "cancelled": 0}
    made = appointments.list_day(db, on=T0.date(), now=BEFORE)
    assert [(a["office"], a["name"], a["external_id"]) for a in made] == [
        ("OAC", "Núria Puig", "u1"),
        ("OMIC", "Joan", "u2"),
    ]
    assert counts(run(db, text, "text/calendar"))["unchanged"] == 2
    cancelled = calendar(vevent(extra="STATUS:CANCELLED"))
    assert counts(run(db, cancelled, "text/calendar"))["cancelled"] == 1


def test_an_ics_event_without_uid_or_recurring_or_all_day_is_reported_by_line(db):
    text = calendar(
        vevent(uid=""),
        vevent("u2", extra="RRULE:FREQ=WEEKLY"),
        vevent("u3", start="20240610T091500"),
    ).replace("DTSTART;TZID=Europe/Madrid:20240610T091500", "DTSTART;VALUE=DATE:20240610")
    result = run(db, text, "text/calendar")
    assert counts(result)["created"] == 0
    assert [(e["line"], e["message"]) for e in result["errors"]] == [
        (4, "The event has no UID."),
        (9, "A recurring event is not an appointment."),
        (16, "DTSTART must be a date and time."),
    ]


# Scale -------------------------------------------------------------------------------------


def weekdays(count, per_day):
    """``count`` starts across the weekdays after T0, ``per_day`` slots of OAC a day."""
    starts, day = [], T0
    while len(starts) < count:
        if day.weekday() < 5:
            for slot in range(per_day):
                for _ in range(4):  # OAC's four places
                    starts.append(day + timedelta(minutes=15 * slot))
        day += DAY
    return starts[:count]


def test_a_2000_row_csv_imports_whole(db):
    rows = [
        f"r{n},OAC,{start.strftime('%Y-%m-%d %H:%M')},Persona {n},6{n:08d},1"
        for n, start in enumerate(weekdays(2000, 20))
    ]
    text = "id,office,start,name,phone,party_size\n" + "\n".join(rows) + "\n"
    result = run(db, text)
    assert counts(result) == {"created": 2000, "updated": 0, "unchanged": 0, "cancelled": 0}
    assert result["errors"] == []
    assert db.execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 2000


def test_a_500_event_ics_imports_whole(db):
    events = [
        vevent(f"uid-{n}", start.strftime("%Y%m%dT%H%M%S"), summary=f"Persona {n}")
        for n, start in enumerate(weekdays(500, 20))
    ]
    result = run(db, calendar(*events), "text/calendar")
    assert counts(result)["created"] == 500 and result["errors"] == []


def test_the_journal_says_who_imported(db):
    imports.import_file(db, CSV.encode(), "text/csv", actor="admin", now=BEFORE)
    actors = db.execute(
        "SELECT DISTINCT actor FROM events WHERE type = 'appointment_changed'"
    ).fetchall()
    assert [row[0] for row in actors] == ["admin"]
