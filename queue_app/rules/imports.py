"""Importing appointments from the town hall's online booking service: CSV or iCalendar.

Idempotent by the booking service's id (CSV ``id`` column, iCalendar ``UID``): importing the
same file twice changes nothing the second time. A bad row is reported with its line and
reason, and the good rows still import; a problem with the whole file (its encoding, a
missing column, not iCalendar at all) refuses it with nothing written. ``dry_run`` does
everything in a transaction it then rolls back, so its counts are exactly what an import
would do.
"""

import csv
import io
from datetime import datetime
from typing import Any, TypedDict

import icalendar
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import local_zone, utcnow
from queue_app.rules import appointments, day, schedules
from queue_app.rules.checks import phone_number
from queue_app.rules.errors import InvalidInput, QueueError
from queue_app.storage.journal import AnyEvent, Outcome

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10000
MAX_EXTERNAL_ID = 200
CSV_TYPES = ("text/csv", "application/csv")
ICS_TYPES = ("text/calendar",)

# Column names, in Catalan, Spanish and English, compared folded (no case, no accents).
ALIASES = {
    "id": ("id", "external_id", "identificador", "uid", "referencia", "reference"),
    "office": ("office", "oficina", "servei", "servicio", "service"),
    "start": ("start", "inici", "inicio", "data", "fecha", "date", "comencament", "comienzo"),
    "end": ("end", "fi", "fin", "final"),
    "name": ("name", "nom", "nombre", "persona"),
    "phone": ("phone", "telefon", "telefono", "mobil", "movil", "mobile", "tel"),
    "party_size": ("party_size", "persones", "personas", "people", "party"),
    "status": ("status", "estat", "estado"),
}
CANCELLED = ("cancelled", "canceled", "cancel·lada", "cancel.lada", "cancelada", "anul·lada")


class Row(TypedDict):
    line: int
    external_id: str
    office: str | None
    start: str | datetime
    end: str | datetime | None
    name: str
    phone: str | None
    party_size: str | int
    cancelled: bool


class LineError(TypedDict):
    line: int
    message: str


class Counts(TypedDict):
    created: int
    updated: int
    unchanged: int
    cancelled: int
    errors: list[LineError]


class _RolledBack(Exception):
    """Ends a dry run's transaction: everything it wrote is undone."""


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise InvalidInput(_l("The file is larger than %(n)s MiB.", n=MAX_BYTES // 1024 // 1024))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidInput(
            _l("The file is not UTF-8 text (line %(line)s): save it as UTF-8.", line=line)
        ) from None


def _cells(columns: dict[str, int], values: list[str]) -> Any:
    """``cell(name)``: the stripped value of a named column in one row ("" when absent)."""

    def cell(name: str) -> str:
        index = columns.get(name)
        return values[index].strip() if index is not None and index < len(values) else ""

    return cell


def parse_csv(data: bytes) -> list[Row]:
    """The rows of a CSV export (comma or semicolon separated, a header row first)."""
    text = _text(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error:
        header = None
    if not header:
        raise InvalidInput(_l("The file has no header row."))
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        folded = appointments.fold(title.strip()).replace(" ", "_")
        for name, aliases in ALIASES.items():
            if folded in aliases and name not in columns:
                columns[name] = index
    missing = [name for name in ("id", "start", "name") if name not in columns]
    if missing:
        raise InvalidInput(
            _l("The file lacks the column(s): %(columns)s.", columns=", ".join(missing))
        )
    rows: list[Row] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise InvalidInput(
                _l("Line %(line)s is not valid CSV.", line=reader.line_num)
            ) from None
        if not any(value.strip() for value in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise InvalidInput(_l("The file has more than %(n)s rows.", n=MAX_ROWS))

        cell = _cells(columns, values)
        rows.append(
            {
                "line": reader.line_num,
                "external_id": cell("id"),
                "office": cell("office") or None,
                "start": cell("start"),
                "end": cell("end") or None,
                "name": cell("name"),
                "phone": cell("phone") or None,
                "party_size": cell("party_size") or 1,
                "cancelled": appointments.fold(cell("status")) in CANCELLED,
            }
        )
    return rows


def _event_lines(text: str) -> list[int]:
    """The line of each ``BEGIN:VEVENT``, in order (the library gives no line numbers)."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]


def _moment(value: Any) -> datetime | None:
    """An iCalendar date-time as an aware datetime (floating ones are local); None for an
    all-day date."""
    moment = getattr(value, "dt", None)
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=local_zone())


def parse_ics(data: bytes) -> tuple[list[Row], list[LineError]]:
    """The events of an iCalendar export, and the ones that cannot be appointments."""
    text = _text(data)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError:
        raise InvalidInput(_l("The file is not iCalendar (.ics).")) from None
    if calendar.name != "VCALENDAR":
        raise InvalidInput(_l("The file is not iCalendar (.ics)."))
    lines = _event_lines(text)
    rows: list[Row] = []
    errors: list[LineError] = []
    for number, event in enumerate(calendar.walk("VEVENT")):
        line = lines[number] if number < len(lines) else 0
        if number >= MAX_ROWS:
            raise InvalidInput(_l("The file has more than %(n)s events.", n=MAX_ROWS))
        uid = str(event.get("UID", "")).strip()
        start = _moment(event.get("DTSTART"))
        if not uid:
            errors.append({"line": line, "message": str(_l("The event has no UID."))})
            continue
        if event.get("RRULE") is not None or event.get("RDATE") is not None:
            errors.append(
                {"line": line, "message": str(_l("A recurring event is not an appointment."))}
            )
            continue
        if start is None:
            errors.append({"line": line, "message": str(_l("DTSTART must be a date and time."))})
            continue
        office = str(event.get("LOCATION", "")).strip()
        if not office and event.get("CATEGORIES") is not None:
            categories = event.get("CATEGORIES")
            listed = categories if isinstance(categories, list) else [categories]
            office = ",".join(str(name) for value in listed for name in value.cats)
        rows.append(
            {
                "line": line,
                "external_id": uid,
                "office": office or None,
                "start": start,
                "end": _moment(event.get("DTEND")),
                "name": str(event.get("SUMMARY", "")).strip(),
                "phone": None,
                "party_size": 1,
                "cancelled": str(event.get("STATUS", "")).upper() == "CANCELLED",
            }
        )
    return rows, errors


def _offices(db: Database) -> dict[str, str]:
    """Folded office codes and names -> code."""
    found = {}
    for code, name in db.execute("SELECT code, name FROM offices"):
        found[appointments.fold(code)] = code
        found[appointments.fold(name)] = code
    return found


def _office(known: dict[str, str], given: str | None, default: str | None) -> str:
    for candidate in (given or "").split(","):
        code = known.get(appointments.fold(candidate.strip()))
        if code:
            return code
    if given:
        raise InvalidInput(_l("Unknown office: %(codes)s.", codes=given))
    if default:
        return default
    raise InvalidInput(_l("The row names no office (and none was chosen for the file)."))


def _party_size(value: str | int) -> int:
    if isinstance(value, str):
        value = int(value) if value.isascii() and value.isdigit() else -1
    return appointments.check_party_size(value)


def _apply_row(
    db: Database,
    row: Row,
    known: dict[str, str],
    default: str | None,
    now: datetime,
    actor: str | None,
) -> tuple[str, list[AnyEvent]]:
    """One row, inside the import's transaction: ``(what it did, its journal events)``, what
    being one of the counts' names; a QueueError when the row is bad."""
    external_id = row["external_id"]
    if not external_id or len(external_id) > MAX_EXTERNAL_ID:
        raise InvalidInput(_l("id must be text of 1 to %(n)s characters.", n=MAX_EXTERNAL_ID))
    existing = db.execute(
        "SELECT id FROM appointments WHERE external_id = ?", [external_id]
    ).fetchone()
    if row["cancelled"]:
        current = None if existing is None else appointments.find(db, existing[0])
        if current is None or current["status"] != "booked":
            return "unchanged", []
        return "cancelled", [appointments.cancel_within(db, current, now, actor)]
    office = _office(known, row["office"], default)
    start = appointments.parse_start(row["start"])
    end = appointments.parse_start(row["end"]) if row["end"] else None
    if end is not None and end <= start:
        raise InvalidInput(_l("end must come after start."))
    booking: appointments.Booking = {
        "office": office,
        "start": start,
        "end": end,
        "name": appointments.check_name(row["name"]),
        "phone": phone_number(row["phone"]),
        "party_size": _party_size(row["party_size"]),
    }
    if existing is None:
        return "created", [appointments.book_within(db, booking, "import", external_id, now, actor)]
    changed = appointments.update_within(db, existing[0], booking, now, actor)
    return ("updated", changed) if changed else ("unchanged", [])


def import_file(
    db: Database,
    data: bytes,
    content_type: str,
    office: str | None = None,
    dry_run: bool = False,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Counts]:
    """Import a booking service's export; ``Counts`` as the value (see the module)."""
    kind = content_type.split(";")[0].strip().lower()
    errors: list[LineError] = []
    if kind in CSV_TYPES:
        rows = parse_csv(data)
    elif kind in ICS_TYPES:
        rows, errors = parse_ics(data)
    else:
        raise InvalidInput(
            _l("Send a CSV (text/csv) or iCalendar (text/calendar) file as the body.")
        )
    now = now or utcnow()
    counts: Counts = {"created": 0, "updated": 0, "unchanged": 0, "cancelled": 0, "errors": []}
    events: list[AnyEvent] = []
    try:
        with day.change(db, now) as events:
            if office is not None:
                schedules.get(db, office)  # UnknownOffice for the whole file
            known = _offices(db)
            for row in rows:
                db.execute("SAVEPOINT import_row")
                try:
                    done, written = _apply_row(db, row, known, office, now, actor)
                    counts[done] += 1  # type: ignore[literal-required]
                    events += written
                except QueueError as error:
                    db.execute("ROLLBACK TO import_row")
                    errors.append({"line": row["line"], "message": str(error)})
                db.execute("RELEASE import_row")
            if dry_run:
                raise _RolledBack()
    except _RolledBack:
        events = []
    counts["errors"] = sorted(errors, key=lambda error: error["line"])
    return Outcome(counts, events)
