"""Schema steps, applied in order at start-up and recorded in the database."""

import json
from datetime import datetime

from sqlite_utils import Database, Migrations

from queue_app.clock import local_zone

migrations = Migrations("torn")

# Steps name tables with ``db.table(name)``: ``db[name]`` may also be a view, which cannot
# be created or indexed (and mypy says so).


@migrations()
def m001_initial(db: Database) -> None:
    """Offices, desks, tickets, users, API tokens, settings and the event journal."""
    db.table("offices").create(
        {"code": str, "name": str, "letter": str, "position": int, "default_service_s": int},
        pk="code",
        not_null={"name", "letter"},
        defaults={"position": 0, "default_service_s": 300},
    )
    db.table("offices").create_index(["letter"], unique=True)
    db.table("desks").create(
        {"id": int, "name": str, "paused": int, "pause_reason": str, "position": int},
        pk="id",
        not_null={"name"},
        defaults={"paused": 0, "position": 0},
    )
    db.table("desks").create_index(["name"], unique=True)
    db.table("desk_offices").create(
        {"desk_id": int, "office": str},
        pk=("desk_id", "office"),
        foreign_keys=[("desk_id", "desks", "id"), ("office", "offices", "code")],
    )
    db.table("tickets").create(
        {
            "id": int,
            "token": str,
            "day": str,
            "issued_office": str,
            "number": int,
            "code": str,
            "office": str,
            "kind": str,
            "priority": int,
            "party_size": int,
            "appointment_at": str,
            "status": str,
            "desk_id": int,
            "issued_at": str,
            "called_at": str,
            "started_at": str,
            "finished_at": str,
            "recalls": int,
        },
        pk="id",
        not_null={
            "token",
            "day",
            "issued_office",
            "number",
            "code",
            "office",
            "kind",
            "priority",
            "party_size",
            "status",
            "issued_at",
            "recalls",
        },
        defaults={"priority": 0, "party_size": 1, "recalls": 0},
        foreign_keys=[
            ("office", "offices", "code"),
            ("issued_office", "offices", "code"),
            ("desk_id", "desks", "id"),
        ],
    )
    db.table("tickets").create_index(["token"], unique=True)
    db.table("tickets").create_index(["day", "issued_office", "number"], unique=True)
    db.table("tickets").create_index(["status", "office"])
    db.table("tickets").create_index(["desk_id", "status"])
    db.table("users").create(
        {"id": int, "username": str, "password_hash": str, "role": str, "created_at": str},
        pk="id",
        not_null={"username", "password_hash", "role", "created_at"},
    )
    db.table("users").create_index(["username"], unique=True)
    db.table("api_tokens").create(
        {
            "id": int,
            "name": str,
            "role": str,
            "token_hash": str,
            "created_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null={"name", "role", "token_hash", "created_at"},
    )
    db.table("api_tokens").create_index(["token_hash"], unique=True)
    db.table("settings").create({"key": str, "value": str}, pk="key")
    db.execute(
        "CREATE TABLE events ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, type TEXT NOT NULL,"
        " ticket_id INTEGER, office TEXT, desk_id INTEGER, actor TEXT, payload TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_events_type_seq ON events (type, seq)")
    # The journal is append-only: the database itself refuses to rewrite history.
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
            "BEGIN SELECT RAISE(ABORT, 'the event journal is append-only'); END"
        )
    db.execute("INSERT INTO settings (key, value) VALUES ('inside', '0'), ('limit', '50')")


@migrations()
def m002_displays(db: Database) -> None:
    """Display screens: a secret key, the offices shown, the language, a message line."""
    db.table("displays").create(
        {"id": int, "name": str, "key": str, "offices": str, "language": str, "message": str},
        pk="id",
        not_null={"name", "key", "offices", "language"},
        defaults={"language": "ca", "message": ""},
    )
    db.table("displays").create_index(["key"], unique=True)
    db.table("displays").create_index(["name"], unique=True)


@migrations()
def m003_journal_no_overwrite(db: Database) -> None:
    """Refuse an insert that would reuse a seq (INSERT OR REPLACE rewriting history)."""
    # In a BEFORE INSERT trigger an auto-assigned seq reads as -1.
    db.execute(
        "CREATE TRIGGER events_no_overwrite BEFORE INSERT ON events"
        " WHEN NEW.seq <> -1 AND NEW.seq <= (SELECT COALESCE(MAX(seq), 0) FROM events)"
        " BEGIN SELECT RAISE(ABORT, 'the event journal is append-only'); END"
    )


@migrations()
def m004_service_times(db: Database) -> None:
    """Running totals of service time per office and day, so estimates cost O(1)."""
    db.table("service_times").create(
        {"day": str, "office": str, "served": int, "total_s": float},
        pk=("day", "office"),
        not_null={"served", "total_s"},
    )
    db.execute(
        "INSERT INTO service_times (day, office, served, total_s)"
        # A step of history: the service time as the rules defined it then (today's
        # definition, calling.SERVICE_SECONDS_SQL, may change; this step must not).
        " SELECT day, office, COUNT(*),"
        " SUM((julianday(finished_at) - julianday(COALESCE(started_at, called_at))) * 86400.0)"
        " FROM tickets"
        " WHERE status = 'done' GROUP BY day, office"
    )


@migrations()
def m005_user_sessions(db: Database) -> None:
    """Users: ids never given twice (AUTOINCREMENT), and a session key that ends sessions.

    Sessions issued before this step carried the bare id and are no longer accepted: every
    user logs in once more.
    """
    db.execute(
        "CREATE TABLE users_new (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " username TEXT NOT NULL, password_hash TEXT NOT NULL, role TEXT NOT NULL,"
        " created_at TEXT NOT NULL, session_key TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO users_new (id, username, password_hash, role, created_at, session_key)"
        " SELECT id, username, password_hash, role, created_at, lower(hex(randomblob(16)))"
        " FROM users"
    )
    db.execute("DROP TABLE users")
    db.execute("ALTER TABLE users_new RENAME TO users")
    db.table("users").create_index(["username"], unique=True)


@migrations()
def m006_user_desks(db: Database) -> None:
    """The desks a clerk user may act at; a user with none listed may act at every desk."""
    db.execute(
        "CREATE TABLE user_desks ("
        " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " desk_id INTEGER NOT NULL REFERENCES desks(id) ON DELETE CASCADE,"
        " PRIMARY KEY (user_id, desk_id))"
    )


@migrations()
def m007_appointments(db: Database) -> None:
    """Appointments (cita prèvia) and each office's booking schedule.

    ``day`` is the appointment's local day; ``search`` its name and phone folded for the
    reception's search (erased with them); ``external_id`` the booking service's id.
    """
    db.execute(
        "CREATE TABLE schedules ("
        " office TEXT PRIMARY KEY REFERENCES offices(code), schedule TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE appointments (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " code TEXT NOT NULL UNIQUE, token TEXT NOT NULL UNIQUE,"
        " office TEXT NOT NULL REFERENCES offices(code), day TEXT NOT NULL,"
        " start_at TEXT NOT NULL, end_at TEXT NOT NULL,"
        " name TEXT, phone TEXT, search TEXT, party_size INTEGER NOT NULL,"
        " status TEXT NOT NULL, source TEXT NOT NULL, external_id TEXT UNIQUE,"
        " ticket_id INTEGER REFERENCES tickets(id), booked_at TEXT NOT NULL,"
        " checked_in_at TEXT, cancelled_at TEXT, erased_at TEXT)"
    )
    db.execute("CREATE INDEX appointments_slot ON appointments (office, start_at, status)")
    db.execute("CREATE INDEX appointments_day ON appointments (day, start_at)")


@migrations()
def m008_statistics(db: Database) -> None:
    """What the statistics read without scanning the journal: each ticket's first call
    (a transfer clears ``called_at``), its wait for it and its service time in seconds
    (reading them is cheaper than computing them from instants) and its local hour of
    issue, each appointment's local hour, each office's target wait, and the building's
    peak count per local hour."""
    db.execute("ALTER TABLE tickets ADD COLUMN first_called_at TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN wait_s REAL")
    db.execute("ALTER TABLE tickets ADD COLUMN service_s REAL")
    db.execute("ALTER TABLE tickets ADD COLUMN issued_hour INTEGER")
    db.execute("ALTER TABLE appointments ADD COLUMN hour INTEGER")
    db.execute("ALTER TABLE offices ADD COLUMN target_wait_s INTEGER NOT NULL DEFAULT 900")
    db.execute(
        "CREATE TABLE occupancy_peaks (day TEXT NOT NULL, hour INTEGER NOT NULL,"
        " peak INTEGER NOT NULL, PRIMARY KEY (day, hour))"
    )
    db.execute(
        "UPDATE tickets SET first_called_at = (SELECT MIN(e.at) FROM events e"
        " WHERE e.ticket_id = tickets.id AND e.type = 'ticket_called')"
    )
    db.execute(
        "UPDATE tickets SET wait_s = (julianday(first_called_at) - julianday(issued_at))"
        " * 86400.0, service_s = CASE WHEN status = 'done' THEN (julianday(finished_at)"
        " - julianday(COALESCE(started_at, called_at))) * 86400.0 END"
    )
    for table, column, stamp_column in (
        ("tickets", "issued_hour", "issued_at"),
        ("appointments", "hour", "start_at"),
    ):
        rows = db.execute(f"SELECT id, {stamp_column} FROM {table}").fetchall()
        db.conn.executemany(
            f"UPDATE {table} SET {column} = ? WHERE id = ?",
            [(local_hour(row[1]), row[0]) for row in rows],
        )
    peaks: dict[tuple[str, int], int] = {}
    for at, payload in db.execute(
        "SELECT at, payload FROM events WHERE type = 'occupancy_changed' ORDER BY seq"
    ):
        moment = datetime.fromisoformat(at).astimezone(local_zone())
        key = (moment.date().isoformat(), moment.hour)
        peaks[key] = max(peaks.get(key, 0), int(json.loads(payload)["inside"]))
    db.conn.executemany(
        "INSERT INTO occupancy_peaks (day, hour, peak) VALUES (?, ?, ?)",
        [(day, hour, peak) for (day, hour), peak in peaks.items()],
    )


@migrations()
def m009_statistics_indexes(db: Database) -> None:
    """For the statistics of long ranges: each grouping's durations kept in order, so that a
    percentile skips to its rank in an index instead of sorting a year of tickets. Partial:
    a ticket enters them only once it has been called or served, so issuing costs nothing
    more. The weekday is the expression ``rules/stats.py`` groups by."""
    weekday = "CAST(strftime('%w', day) AS INTEGER)"
    for measure in ("wait_s", "service_s"):
        for suffix, columns in (
            ("all", f"{measure}, day, office"),
            ("by_day", f"day, {measure}, office"),
            ("by_hour", f"issued_hour, {measure}, day, office"),
            ("by_weekday", f"{weekday}, {measure}, day, office"),
            ("by_office", f"office, {measure}, day"),
            ("by_desk", f"desk_id, {measure}, day, office"),
        ):
            db.execute(
                f"CREATE INDEX tickets_{measure}_{suffix} ON tickets ({columns})"
                f" WHERE {measure} IS NOT NULL"
            )


@migrations()
def m010_office_settings(db: Database) -> None:
    """Office settings of contract v2: its name per language (JSON, ``{"ca","es","en"}``)
    and how many priority tickets may be called in a row (0: always first); and the journal
    by desk, for how long each desk has been as it is (the statistics' live view)."""
    db.execute("ALTER TABLE offices ADD COLUMN names TEXT")
    db.execute("ALTER TABLE offices ADD COLUMN priority_every INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE offices SET names = json_object('ca', name, 'es', name, 'en', name)")
    db.execute("CREATE INDEX events_desk ON events (desk_id, seq) WHERE desk_id IS NOT NULL")


@migrations()
def m011_closed_days(db: Database) -> None:
    """The statistics' sums of each closed day, per office, desk (0: none) and hour of
    issue: what ``rules/stats.py`` adds up for long ranges instead of every ticket. Filled
    as days close (``rules/day.py``), the days before this step at the next one."""
    db.execute(
        "CREATE TABLE stats_days (day TEXT NOT NULL, office TEXT NOT NULL,"
        " desk_id INTEGER NOT NULL, hour INTEGER NOT NULL, issued INTEGER NOT NULL,"
        " served INTEGER NOT NULL, no_show INTEGER NOT NULL, cancelled INTEGER NOT NULL,"
        " expired INTEGER NOT NULL, transferred INTEGER NOT NULL, waited INTEGER NOT NULL,"
        " wait_sum REAL, wait_max REAL, within INTEGER, serviced INTEGER NOT NULL,"
        " service_sum REAL, PRIMARY KEY (day, office, desk_id, hour))"
    )


@migrations()
def m012_fair_calling(db: Database) -> None:
    """Fair calling and honest estimates (contract v2, "Desks and calling"): how many
    priority tickets each office called in a row while others waited; each desk's name per
    language; today's recent service time per office (an exponentially weighted mean); and
    the desks that have a live desk page open (per server process, refreshed while open)."""
    db.execute("ALTER TABLE offices ADD COLUMN priority_streak INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE desks ADD COLUMN names TEXT")
    db.execute("UPDATE desks SET names = json_object('ca', name, 'es', name, 'en', name)")
    db.execute("ALTER TABLE service_times ADD COLUMN recent_s REAL")
    db.execute("UPDATE service_times SET recent_s = total_s / served WHERE served > 0")
    db.execute(
        "CREATE TABLE desk_presence (sid TEXT PRIMARY KEY, desk_id INTEGER NOT NULL"
        " REFERENCES desks (id) ON DELETE CASCADE, process TEXT NOT NULL, seen_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX desk_presence_desk ON desk_presence (desk_id, seen_at)")


@migrations()
def m013_citizen_notices(db: Database) -> None:
    """Citizen notices by SMS (contract v2): a ticket's phone (erased when its day ends) and
    language, and the outbox of messages: one per ticket and kind, written in the same
    transaction as the change that calls for it, sent by a background sender until the
    gateway accepts it."""
    db.execute("ALTER TABLE tickets ADD COLUMN phone TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN language TEXT NOT NULL DEFAULT 'ca'")
    db.execute(
        "CREATE INDEX tickets_with_phone ON tickets (office, status) WHERE phone IS NOT NULL"
    )
    db.execute(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL"
        " REFERENCES tickets (id), kind TEXT NOT NULL, created_at TEXT NOT NULL,"
        " due_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_until TEXT,"
        " sent_at TEXT, dropped_at TEXT, last_error TEXT, UNIQUE (ticket_id, kind))"
    )
    db.execute(
        "CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND dropped_at IS NULL"
    )


@migrations()
def m014_display_voice(db: Database) -> None:
    """A display screen's voice (contract v2, "Languages and voice"): ``auto`` (the
    browser's voice for the screen's language when it has one, else the server's),
    ``browser`` or ``server`` (the server renders each announcement as audio)."""
    db.execute("ALTER TABLE displays ADD COLUMN voice TEXT NOT NULL DEFAULT 'auto'")


@migrations()
def m015_queue_sizes(db: Database) -> None:
    """Costs flat at any queue length (issue 15): how many wait per office and priority flag
    (``queue_sizes``), and per minute of issue too (``queue_minutes``), both kept by triggers on
    every insert, change and removal of a ticket (a rewrite of the tickets table must create
    them again); and the waiting tickets' order per lane and of the few urgent and appointment
    ones as partial indexes. A place is then the waiting of the minutes before a ticket's own
    plus a count within its minute (rules/calling.py, ``places``)."""
    # Each table's name, its key columns besides office and priority, and what they hold.
    counts = (
        ("queue_sizes", "", ""),
        ("queue_minutes", ", minute", ", substr({}issued_at, 1, 16)"),
    )
    for table, key, value in counts:
        columns = ", minute TEXT NOT NULL" if key else ""
        db.execute(
            f"CREATE TABLE {table} (office TEXT NOT NULL, priority INTEGER NOT NULL{columns},"
            f" waiting INTEGER NOT NULL, PRIMARY KEY (office, priority{key})) WITHOUT ROWID"
        )
        db.execute(
            f"INSERT INTO {table} (office, priority{key}, waiting)"
            f" SELECT office, priority{value.format('')}, COUNT(*) FROM tickets"
            f" WHERE status = 'waiting' GROUP BY office, priority{value.format('')}"
        )
    one_more = "".join(
        f"INSERT INTO {table} (office, priority{key}, waiting) SELECT NEW.office, NEW.priority"
        f"{value.format('NEW.')}, 1 WHERE NEW.status = 'waiting'"
        f" ON CONFLICT (office, priority{key}) DO UPDATE SET waiting = waiting + 1;"
        for table, key, value in counts
    )
    one_less = "".join(
        f"UPDATE {table} SET waiting = waiting - 1 WHERE OLD.status = 'waiting'"
        f" AND office = OLD.office AND priority = OLD.priority"
        f"{' AND minute = substr(OLD.issued_at, 1, 16)' if key else ''};"
        for table, key, _ in counts
    )
    # A minute nobody waits from any more goes: the sums read only minutes with a queue.
    one_less += "DELETE FROM queue_minutes WHERE waiting = 0 AND office = OLD.office;"
    db.execute(f"CREATE TRIGGER queue_sizes_insert AFTER INSERT ON tickets BEGIN {one_more} END")
    db.execute(
        "CREATE TRIGGER queue_sizes_update AFTER UPDATE OF status, office, priority, issued_at"
        f" ON tickets WHEN OLD.status = 'waiting' OR NEW.status = 'waiting'"
        f" BEGIN {one_less} {one_more} END"
    )
    db.execute(f"CREATE TRIGGER queue_sizes_delete AFTER DELETE ON tickets BEGIN {one_less} END")
    db.execute(
        "CREATE INDEX tickets_waiting_lane ON tickets (office, priority, issued_at, id)"
        " WHERE status = 'waiting'"
    )
    db.execute(
        "CREATE INDEX tickets_waiting_special ON tickets (office, issued_at, id)"
        " WHERE status = 'waiting' AND kind != 'walk_in'"
    )


@migrations()
def m016_outside(db: Database) -> None:
    """Capacity at the door (contract v2): a ticket issued while the building is full waits
    outside. Its status is stored as ``outside`` (shown as ``waiting`` with ``"outside":
    true``), so no query of the calling order can ever see it; ``outside`` stays 1 on a ticket
    that was issued to wait outside, ``admitted_at`` says when it was let in. The outside
    queue, in issue order, and the codes admitted last are partial indexes. A display screen
    has a ``layout``: ``waiting_room`` or ``entrance``."""
    db.execute("ALTER TABLE tickets ADD COLUMN outside INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE tickets ADD COLUMN admitted_at TEXT")
    db.execute("CREATE INDEX tickets_outside ON tickets (issued_at, id) WHERE status = 'outside'")
    db.execute(
        "CREATE INDEX tickets_admitted ON tickets (day, admitted_at, id)"
        " WHERE admitted_at IS NOT NULL"
    )
    db.execute("ALTER TABLE displays ADD COLUMN layout TEXT NOT NULL DEFAULT 'waiting_room'")


@migrations()
def m017_outside_statistics(db: Database) -> None:
    """The statistics of the outside queue (issue 16) in each closed day's sums: how many
    tickets were issued to wait outside, how many of them were let in, and the sum and the
    longest of their waits outside, from issue to admission. Days closed before this step
    with tickets from outside (none before m016) are added up again from their tickets."""
    for column in (
        "waited_outside INTEGER NOT NULL DEFAULT 0",
        "admitted INTEGER NOT NULL DEFAULT 0",
        "outside_wait_sum REAL",
        "outside_wait_max REAL",
    ):
        db.execute(f"ALTER TABLE stats_days ADD COLUMN {column}")
    # A step of history: the wait outside as the statistics define it now.
    waited = "(julianday(t.admitted_at) - julianday(t.issued_at)) * 86400.0"
    db.execute(
        "UPDATE stats_days AS r SET waited_outside = s.waited_outside, admitted = s.admitted,"
        " outside_wait_sum = s.outside_wait_sum, outside_wait_max = s.outside_wait_max"
        " FROM (SELECT t.day, t.office, COALESCE(t.desk_id, 0) AS desk_id,"
        " t.issued_hour AS hour, SUM(t.outside) AS waited_outside,"
        f" COUNT(t.admitted_at) AS admitted, SUM({waited}) AS outside_wait_sum,"
        f" MAX({waited}) AS outside_wait_max FROM tickets t"
        " WHERE t.day IN (SELECT day FROM tickets WHERE outside = 1)"
        " GROUP BY t.day, t.office, t.desk_id, t.issued_hour) AS s"
        " WHERE r.day = s.day AND r.office = s.office AND r.desk_id = s.desk_id"
        " AND r.hour = s.hour"
    )


def local_hour(stored: str) -> int:
    """The local hour (0-23) of a stored UTC instant."""
    return datetime.fromisoformat(stored).astimezone(local_zone()).hour


def migrate(db: Database) -> None:
    """Apply every pending schema step (idempotent)."""
    migrations.apply(db)
