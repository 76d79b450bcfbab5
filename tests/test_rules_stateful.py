"""Random days at the town hall, checked against a model of the queue rules after every step.

The model is written here from the contract (``shared/API.md`` and ``docs/api.md``), not from
the code: it predicts which calls must be refused, the calling order, the count inside, and
the status of every ticket; the database must agree after every step.

The queue outside the door (contract v2, "Capacity at the door"): tickets issued to wait
outside while the building is full, let in whenever room appears (an exit, a ticket ending,
a limit raised, the count corrected) in strict issue order: the first party that does not
fit yet holds those behind it, one larger than the limit itself is passed over. The model
predicts who is let in at each step, in which order and when; nobody is let in twice, nobody
past the limit (an administrator may set it below the count inside: then nobody comes in
until it fits again), and no desk is ever given a ticket still outside.
"""

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from queue_app import clock, seed
from queue_app.clock import stamp
from queue_app.rules import desks, door, occupancy, offices, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import (
    CapacityFull,
    DeskBusy,
    DeskPaused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    QueueError,
    UnknownOffice,
)
from queue_app.storage import journal
from queue_app.storage.db import connect, write_transaction
from queue_app.storage.migrations import migrate

MADRID = ZoneInfo("Europe/Madrid")
# A Friday: summer time starts on Sunday. The model's clock runs in UTC, because Python adds
# and compares datetimes of one zone by their wall time, which skips an hour at the change.
START = datetime(2024, 3, 29, 8, 0, tzinfo=MADRID).astimezone(timezone.utc)
LETTERS = {code: letter for code, letter, _ in seed.OFFICES}
OFFICE_CODES = sorted(LETTERS)
# The demo desks, plus one desk serving three offices so that the order across offices shows.
DESKS = seed.DESKS + [("Taulell 9", ["OMIC", "OFIM", "HAB"])]
DESK_IDS = list(range(1, len(DESKS) + 1))
DESK_OFFICES = {desk_id: set(served) for desk_id, (_, served) in zip(DESK_IDS, DESKS, strict=True)}
DESK_NAMES = {desk_id: name for desk_id, (name, _) in zip(DESK_IDS, DESKS, strict=True)}
OPEN = {"waiting", "outside", "called", "serving"}
HELD = {"called", "serving"}
ALLOWED = {
    "recall": {"called"},
    "start": {"called"},
    "finish": {"called", "serving"},
    "no_show": {"called"},
    "cancel": {"waiting", "outside", "called", "serving"},
    "transfer": {"waiting", "outside", "called", "serving"},
}
RESULT = {
    "recall": "called",
    "start": "serving",
    "finish": "done",
    "no_show": "no_show",
    "cancel": "cancelled",
}
ACTIONS = {
    "recall": tickets.recall,
    "start": tickets.start,
    "finish": tickets.finish,
    "no_show": tickets.no_show,
    "cancel": tickets.cancel,
}
DUE_BEFORE = timedelta(minutes=5)

_template = None


def fresh_db():
    """A new in-memory town hall: the demo offices and desks, no users (hashing is slow)."""
    global _template
    if _template is None:
        _template = connect(":memory:")
        migrate(_template)
        with write_transaction(_template):
            for position, (code, letter, names) in enumerate(seed.OFFICES):
                offices.ensure(_template, code, names, letter, position)
            for desk_id, (name, served) in zip(DESK_IDS, DESKS, strict=True):
                _template.execute(
                    "INSERT INTO desks (id, name, position) VALUES (?, ?, ?)",
                    [desk_id, name, desk_id],
                )
                for office in served:
                    _template.execute(
                        "INSERT INTO desk_offices (desk_id, office) VALUES (?, ?)",
                        [desk_id, office],
                    )
    db = connect(":memory:")
    _template.conn.backup(db.conn)
    return db


def local_day(moment):
    return moment.astimezone(MADRID).date().isoformat()


@dataclass
class Ticket:
    status: str
    office: str
    issued_office: str
    day: str
    kind: str
    priority: bool
    party_size: int
    issued_at: datetime
    appointment_at: datetime
    desk: int = None
    recalls: int = 0
    code: str = None
    outside: bool = False  # issued to wait outside (never changes)
    admitted_at: datetime = None  # when let in from outside


@dataclass
class Model:
    """What the town hall should look like, as the contract describes it."""

    day: str = None
    inside: int = 0
    limit: int = 50
    tickets: dict = None
    paused: frozenset = frozenset()

    # An administrator set the count or the limit so that more are inside than the limit:
    # allowed, but then nobody comes in until it fits again.
    crowded_by_admin: bool = False

    def holder_of(self, desk_id):
        return [i for i, t in self.tickets.items() if t.desk == desk_id and t.status in HELD]

    def outside_queue(self):
        """The tickets waiting outside, in issue order (the ids follow it)."""
        return [i for i, t in sorted(self.tickets.items()) if t.status == "outside"]

    def people_outside(self):
        return sum(self.tickets[i].party_size for i in self.outside_queue())

    def holds_an_issue(self):
        """Someone outside goes in before a party issued now: anyone whose party could ever
        enter (the queue is settled, so the first of those does not fit)."""
        return any(self.tickets[i].party_size <= self.limit for i in self.outside_queue())

    def next_in(self):
        """The codes of the last tickets let in today, newest first (at one instant, in
        reverse issue order: the ids follow it)."""
        admitted = [(t.admitted_at, i) for i, t in self.tickets.items() if t.admitted_at]
        today = [i for _, i in sorted(admitted, reverse=True) if self.tickets[i].day == self.day]
        return [self.tickets[i].code for i in today[: occupancy.NEXT_IN]]

    def let_in(self, now):
        """Room appeared: the outside queue comes in, in issue order, while the first party
        fits; a party larger than the limit is passed over. The ids let in, in order."""
        admitted = []
        for ticket_id in self.outside_queue():
            ticket = self.tickets[ticket_id]
            if ticket.party_size > self.limit:
                continue
            if self.inside + ticket.party_size > self.limit:
                break
            self.inside += ticket.party_size
            ticket.status, ticket.admitted_at = "waiting", now
            admitted.append(ticket_id)
        return admitted


def rank(ticket, now):
    """Calling class and age: urgent, due appointment, priority, the rest; oldest first."""
    if ticket.kind == "urgent":
        group = 0
    elif ticket.kind == "appointment" and ticket.appointment_at - DUE_BEFORE <= now:
        group = 1
    elif ticket.priority:
        group = 2
    else:
        group = 3
    return group, ticket.issued_at


class TownHall(RuleBasedStateMachine):
    """Issue, call, serve, transfer, cancel, count the door and let days go by."""

    def __init__(self):
        super().__init__()
        self.previous_zone = clock.local_zone()
        clock.set_timezone("Europe/Madrid")
        self.db = fresh_db()
        self.now = START
        self.model = Model(tickets={})

    def teardown(self):
        self.db.close()
        clock.set_timezone(self.previous_zone.key)

    # The model's side ---------------------------------------------------------------------

    def begin(self):
        """The model as the domain sees it inside the next call: rolled over on a new day."""
        model = copy.deepcopy(self.model)
        today = local_day(self.now)
        rolled = model.day is None or today > model.day
        if rolled:
            for ticket in model.tickets.values():
                if ticket.status in OPEN:
                    ticket.status = "expired"
            model.inside = 0
            model.crowded_by_admin = False
            model.day = today
        return model, rolled

    def settled(self, model):
        """The model after a step: whether an administrator's count still crowds it."""
        model.crowded_by_admin = model.crowded_by_admin and model.inside > model.limit
        self.model = model

    def state(self):
        return {
            "tickets": {row["id"]: tuple(row) for row in self.db.execute("SELECT * FROM tickets")},
            "settings": sorted(tuple(row) for row in self.db.execute("SELECT * FROM settings")),
            "desks": sorted(tuple(row) for row in self.db.execute("SELECT * FROM desks")),
            "waiting": dict(
                self.db.execute(
                    "SELECT office, COUNT(*) FROM tickets WHERE status = 'waiting' GROUP BY office"
                ).fetchall()
            ),
            "last_seq": journal.last_seq(self.db),
            "outside": self.db.execute(
                "SELECT COALESCE(SUM(party_size), 0) FROM tickets WHERE status = 'outside'"
            ).fetchone()[0],
        }

    def attempt(self, call, refusals, rolled):
        """Run ``call``; it must be refused with one of ``refusals`` (if any) and then write
        nothing, or succeed and journal exactly what it changed. Returns the outcome or None."""
        before = self.state()
        try:
            outcome = call()
        except QueueError as error:
            assert refusals, f"refused unexpectedly: {error!r}"
            assert isinstance(error, refusals), f"{error!r} is not one of {refusals}"
            assert self.state() == before, "a refusal wrote something"
            return None
        assert not refusals, f"expected {refusals}, but it succeeded with {outcome.value!r}"
        after = self.state()
        written = journal.since(self.db, before["last_seq"])
        seqs = [event["seq"] for event in written]
        assert [event["seq"] for event in outcome.events] == seqs
        assert all(seq > before["last_seq"] for seq in seqs) and seqs == sorted(set(seqs))
        if after != before:
            assert written, "a change was not journaled"
        assert ("day_started" in [e["type"] for e in written]) == rolled
        self.check_broadcasts(before, after, written)
        return outcome

    def check_broadcasts(self, before, after, written):
        """Whatever changed was announced, and the last announcement tells the truth."""
        last = {}
        for event in written:
            payload = event["payload"]
            if event["type"] == "queue_changed":
                last["queue", payload["office"]] = payload["waiting"]
            elif event["type"] == "occupancy_changed":
                last["occupancy"] = payload
            elif event["type"] == "ticket_changed":
                last["ticket", payload["ticket"]["id"]] = payload["ticket"]["status"]
        for office in OFFICE_CODES:
            count = after["waiting"].get(office, 0)
            if count != before["waiting"].get(office, 0):
                assert last.get(("queue", office)) == count, office
        if after["settings"] != before["settings"] or after["outside"] != before["outside"]:
            assert last.get("occupancy") == occupancy.read(self.db)
        for ticket_id, row in after["tickets"].items():
            if before["tickets"].get(ticket_id) != row:
                status = self.db.execute(
                    "SELECT status FROM tickets WHERE id = ?", [ticket_id]
                ).fetchone()[0]
                # Outside for room is "waiting" in the contract's ticket, with "outside": true.
                shown = "waiting" if status == "outside" else status
                assert last.get(("ticket", ticket_id)) == shown, ticket_id

    def check_admitted(self, outcome, admitted, model):
        """The step let in exactly whom the model says, in that order, each once, with
        ``ticket_admitted`` after its ``ticket_changed``, and then told the occupancy (never
        above the limit after letting anyone in)."""
        events = outcome.events
        said = [e["payload"]["ticket"]["id"] for e in events if e["type"] == "ticket_admitted"]
        assert said == admitted, "the outside queue was let in out of the model's order"
        for event in events:
            if event["type"] == "ticket_admitted":
                ticket = event["payload"]["ticket"]
                assert (ticket["status"], ticket["outside"]) == ("waiting", False)
                assert ticket["outside_ahead"] is None and ticket["position"] is not None
        if admitted:
            told = [e["payload"] for e in events if e["type"] == "occupancy_changed"][-1]
            assert told["inside"] <= told["limit"], "let in past the limit"
            assert (told["inside"], told["limit"]) == (model.inside, model.limit)
            assert told["next_in"] == model.next_in()

    def pick(self, index, held):
        """A ticket id (when ``held``, one at a desk if there is one); one time in len+1 an id
        that does not exist."""
        ids = sorted(self.model.tickets)
        at_desks = [i for i in ids if self.model.tickets[i].status in HELD]
        if held and at_desks:
            return at_desks[index % len(at_desks)]
        return ids[index % len(ids)] if index % (len(ids) + 1) < len(ids) else 10_000 + index

    # Setting up ---------------------------------------------------------------------------

    @initialize(
        limit=st.sampled_from([4, 20, 50]),
        queue=st.lists(
            st.tuples(
                st.sampled_from(OFFICE_CODES),
                st.sampled_from(["walk_in", "appointment", "urgent"]),
                st.booleans(),
            ),
            max_size=12,
        ),
        outside=st.lists(st.tuples(st.sampled_from(OFFICE_CODES), st.integers(1, 4)), max_size=6),
    )
    def open_the_building(self, limit, queue, outside):
        """The doors open: the building's limit is set and a morning queue forms, then some
        more come who would wait outside if it is full."""
        model, rolled = self.begin()
        outcome = self.attempt(
            lambda: door.set_counts(self.db, limit=limit, now=self.now), (), rolled
        )
        assert outcome.value == {
            "inside": 0,
            "limit": limit,
            "full": False,
            "outside": 0,
            "next_in": [],
        }
        model.limit = limit
        self.settled(model)
        for place, (office, kind, priority) in enumerate(queue):
            self.now += timedelta(minutes=place % 3)  # some arrive in the same minute
            self.issue_ticket(office, kind, priority, 1, None)
        for office, party_size in outside:
            self.issue_ticket(office, "walk_in", False, party_size, None, outside=True)

    # Reception ----------------------------------------------------------------------------

    issue_args = {
        "office": st.sampled_from(OFFICE_CODES),
        "kind": st.sampled_from(["walk_in", "walk_in", "appointment", "urgent"]),
        "priority": st.booleans(),
        "party_size": st.integers(1, 3) | st.integers(1, 20),
        "booked_in": st.none() | st.integers(-30, 90),
    }

    @rule(**issue_args)
    def issue(self, **args):
        self.issue_ticket(**args)

    @rule(**issue_args)
    def issue_another(self, **args):
        self.issue_ticket(**args)

    outside_args = {
        "office": st.sampled_from(OFFICE_CODES),
        "priority": st.booleans(),
        "party_size": st.integers(1, 4) | st.integers(1, 20),
    }

    @rule(**outside_args)
    def issue_to_wait_outside(self, office, priority, party_size):
        """Reception, the building full, offers to wait outside with a number."""
        self.issue_ticket(office, "walk_in", priority, party_size, None, outside=True)

    @rule(**outside_args)
    def issue_another_to_wait_outside(self, office, priority, party_size):
        self.issue_ticket(office, "walk_in", priority, party_size, None, outside=True)

    def issue_ticket(self, office, kind, priority, party_size, booked_in, outside=False):
        model, rolled = self.begin()
        booked = None
        if kind == "appointment" and booked_in is not None:
            booked = self.now + timedelta(minutes=booked_in)
        comes_in = model.inside + party_size <= model.limit and not model.holds_an_issue()
        # A party larger than the limit could never enter: refused even with "outside".
        goes_outside = not comes_in and outside and party_size <= model.limit
        refusals = () if comes_in or goes_outside else (CapacityFull,)
        ahead = model.people_outside()
        outcome = self.attempt(
            lambda: tickets.issue(
                self.db, office, kind, priority, party_size, booked, outside=outside, now=self.now
            ),
            refusals,
            rolled,
        )
        if outcome is None:
            return
        ticket = outcome.value
        number = 1 + sum(
            1 for t in model.tickets.values() if t.issued_office == office and t.day == model.day
        )
        assert ticket["code"] == f"{LETTERS[office]}{number:03d}"
        assert (ticket["status"], ticket["office"], ticket["desk"]) == ("waiting", office, None)
        assert ticket["outside"] is goes_outside
        assert ticket["outside_ahead"] == (ahead if goes_outside else None)
        assert (ticket["position"] is None) is goes_outside
        model.tickets[ticket["id"]] = Ticket(
            "outside" if goes_outside else "waiting",
            office,
            office,
            model.day,
            kind,
            priority,
            party_size,
            self.now,
            booked or self.now if kind == "appointment" else None,
            code=ticket["code"],
            outside=goes_outside,
        )
        if comes_in:
            model.inside += party_size
        self.settled(model)

    @precondition(lambda self: self.model.outside_queue())
    @rule(extra=st.integers(-3, 2))
    def leave_while_others_wait_outside(self, extra):
        """People leave while others wait outside: about as many as the first party outside
        that could enter needs, give or take."""
        model = self.model
        first = [
            model.tickets[i].party_size
            for i in model.outside_queue()
            if model.tickets[i].party_size <= model.limit
        ]
        needed = model.inside + first[0] - model.limit if first else 0
        self.door(max(1, needed + extra), False)

    @rule(count=st.integers(1, 5) | st.integers(1, 30), entering=st.booleans())
    def door(self, count, entering):
        model, rolled = self.begin()
        if entering:
            refusals = (CapacityFull,) if model.inside + count > model.limit else ()
            outcome = self.attempt(
                lambda: door.enter(self.db, count, now=self.now), refusals, rolled
            )
            if outcome is None:
                return
            model.inside += count
            admitted = []
        else:
            outcome = self.attempt(lambda: door.leave(self.db, count, now=self.now), (), rolled)
            model.inside = max(0, model.inside - count)
            admitted = model.let_in(self.now)
        assert outcome.value["inside"] == model.inside
        assert outcome.value["outside"] == model.people_outside()
        self.check_admitted(outcome, admitted, model)
        self.settled(model)

    @rule()
    def a_room_closes(self):
        """The administrator lowers the limit to the people inside: the building is full."""
        self.set_the_counts(None, max(1, self.model.inside))

    @rule(
        inside=st.sampled_from([None, None, None, 0]) | st.integers(0, 12),
        limit=st.none() | st.integers(1, 12) | st.integers(0, 60),
    )
    def set_the_counts(self, inside, limit):
        """An administrator corrects the count inside or sets the limit, perhaps below the
        count inside (then nobody comes in until it fits again), perhaps to 0 (refused)."""
        model, rolled = self.begin()
        refusals = (InvalidInput,) if limit == 0 else ()
        outcome = self.attempt(
            lambda: door.set_counts(self.db, inside, limit, now=self.now), refusals, rolled
        )
        if outcome is None:
            return
        model.inside = model.inside if inside is None else inside
        model.limit = model.limit if limit is None else limit
        model.crowded_by_admin = model.inside > model.limit
        admitted = model.let_in(self.now)
        assert (outcome.value["inside"], outcome.value["limit"]) == (model.inside, model.limit)
        self.check_admitted(outcome, admitted, model)
        self.settled(model)

    # Desks --------------------------------------------------------------------------------

    def desk(self, index, useful):
        """A desk; when ``useful``, one with tickets waiting in its offices if there is one."""
        waiting = {t.office for t in self.model.tickets.values() if t.status == "waiting"}
        choice = [d for d in DESK_IDS if DESK_OFFICES[d] & waiting] if useful else []
        choice = choice or DESK_IDS
        return choice[index % len(choice)]

    @rule(index=st.integers(0, len(DESK_IDS) - 1), useful=st.booleans())
    def call_next(self, index, useful):
        self.call_at(self.desk(index, useful))

    @rule(index=st.integers(0, len(DESK_IDS) - 1), useful=st.booleans())
    def call_next_elsewhere(self, index, useful):
        self.call_at(self.desk(index, useful))

    def call_at(self, desk_id):
        model, rolled = self.begin()
        refusals = ()
        if desk_id in model.paused:
            refusals += (DeskPaused,)
        if model.holder_of(desk_id):
            refusals += (DeskBusy,)
        waiting = {
            i: t
            for i, t in model.tickets.items()
            if t.status == "waiting" and t.office in DESK_OFFICES[desk_id]
        }
        outcome = self.attempt(
            lambda: tickets.call_next(self.db, desk_id, now=self.now), refusals, rolled
        )
        if outcome is None:
            return
        called = outcome.value
        if called is None:
            assert not waiting, "a desk found nothing while tickets of its offices wait"
        else:
            assert called["id"] in waiting, "called a ticket that was not waiting for this desk"
            assert model.tickets[called["id"]].status != "outside" and not called["outside"]
            best = min(rank(t, self.now) for t in waiting.values())
            assert rank(waiting[called["id"]], self.now) == best, "calling order broken"
            assert (called["status"], called["desk"]) == ("called", DESK_NAMES[desk_id])
            waiting[called["id"]].status = "called"
            waiting[called["id"]].desk = desk_id
        self.settled(model)

    @precondition(lambda self: self.model.outside_queue())
    @rule(index=st.integers(0, 50), desk_index=st.integers(0, len(DESK_IDS) - 1))
    def call_a_ticket_still_outside(self, index, desk_index):
        """A clerk picks from the list a ticket still outside: refused, whatever the desk."""
        model, rolled = self.begin()
        queue = model.outside_queue()
        if rolled or not queue:
            return  # a new day: nobody waits outside any more
        ticket_id = queue[index % len(queue)]
        desk_id = DESK_IDS[desk_index]
        refusals = (InvalidTransition,)
        if desk_id in model.paused:
            refusals += (DeskPaused,)
        if model.holder_of(desk_id):
            refusals += (DeskBusy,)
        self.attempt(
            lambda: tickets.call(self.db, desk_id, ticket_id, now=self.now), refusals, rolled
        )

    @precondition(lambda self: self.model.outside_queue())
    @rule(index=st.integers(0, 50))
    def give_up_outside(self, index):
        """Someone waiting outside leaves: their ticket is cancelled, which may let in those
        behind them (they were held by a party that did not fit)."""
        queue = self.model.outside_queue()
        self.act("cancel", index % len(queue), False, among=queue)

    @rule(desk_id=st.sampled_from(DESK_IDS), paused=st.booleans())
    def pause_or_resume(self, desk_id, paused):
        model, rolled = self.begin()
        change = desks.pause if paused else desks.resume
        outcome = self.attempt(lambda: change(self.db, desk_id, now=self.now), (), rolled)
        assert outcome.value["paused"] is paused
        model.paused = model.paused | {desk_id} if paused else model.paused - {desk_id}
        self.settled(model)

    @rule(action=st.sampled_from(sorted(ACTIONS)), index=st.integers(0, 50), held=st.booleans())
    def act_on_ticket(self, action, index, held):
        self.act(action, index, held)

    @rule(action=st.sampled_from(sorted(ACTIONS)), index=st.integers(0, 50), held=st.booleans())
    def act_on_another_ticket(self, action, index, held):
        self.act(action, index, held)

    def act(self, action, index, held, among=None):
        model, rolled = self.begin()
        ticket_id = among[index] if among else self.pick(index, held)
        ticket = model.tickets.get(ticket_id)
        if ticket is None:
            refusals = (NotFound,)
        elif ticket.status not in ALLOWED[action]:
            refusals = (InvalidTransition,)
        else:
            refusals = ()
        outcome = self.attempt(
            lambda: ACTIONS[action](self.db, ticket_id, now=self.now), refusals, rolled
        )
        if outcome is None:
            return
        was_outside = ticket.status == "outside"
        ticket.status = RESULT[action]
        if action == "recall":
            ticket.recalls += 1
        admitted = []
        if ticket.status not in OPEN:
            if not was_outside:  # a party still outside was never counted in
                model.inside = max(0, model.inside - ticket.party_size)
            admitted = model.let_in(self.now)
        assert outcome.value["status"] == ticket.status
        assert outcome.value["recalls"] == ticket.recalls
        assert outcome.value["outside"] is False
        self.check_admitted(outcome, admitted, model)
        self.settled(model)

    @rule(
        index=st.integers(0, 50),
        held=st.booleans(),
        office=st.sampled_from(OFFICE_CODES + ["NOPE"]),
    )
    def transfer(self, index, held, office):
        model, rolled = self.begin()
        ticket_id = self.pick(index, held)
        ticket = model.tickets.get(ticket_id)
        refusals = ()
        if ticket is None:
            refusals += (NotFound,)
        else:
            if ticket.status not in ALLOWED["transfer"]:
                refusals += (InvalidTransition,)
            if office == ticket.office:
                refusals += (InvalidTransition,)
        if office not in LETTERS:
            refusals += (UnknownOffice,)
        before = tickets.find(self.db, ticket_id, self.now) if ticket else None
        outcome = self.attempt(
            lambda: tickets.transfer(self.db, ticket_id, office, now=self.now), refusals, rolled
        )
        if outcome is None:
            return
        moved = outcome.value
        assert (moved["code"], moved["issued_at"]) == (before["code"], before["issued_at"])
        assert (moved["status"], moved["office"], moved["desk"]) == ("waiting", office, None)
        # A ticket outside keeps its place outside; any other waits in the new office.
        assert moved["outside"] is (ticket.status == "outside")
        ticket.status = "outside" if ticket.status == "outside" else "waiting"
        ticket.office, ticket.desk, ticket.recalls = office, None, 0
        self.settled(model)

    # Time ---------------------------------------------------------------------------------

    @rule(
        minutes=st.integers(0, 20) | st.integers(0, 300),
        tomorrow_at=st.integers(0, 24 * 60 - 1),
        jump=st.sampled_from([False, False, False, True]),
        then_read=st.booleans(),
    )
    def time_passes(self, minutes, tomorrow_at, jump, then_read):
        """Some minutes go by, or the clock jumps to a time of the next local day; then
        perhaps a reader (a display, a desk page) asks for the state."""
        if not jump:
            self.now += timedelta(minutes=minutes)
        else:
            tomorrow = self.now.astimezone(MADRID).date() + timedelta(days=1)
            hour, minute = divmod(tomorrow_at, 60)
            self.now = datetime(
                tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, tzinfo=MADRID
            ).astimezone(timezone.utc)
        if then_read:
            model, rolled = self.begin()
            outcome = self.attempt(lambda: ensure_today(self.db, self.now), (), rolled)
            assert bool(outcome.events) == rolled
            self.settled(model)

    # What must always hold ----------------------------------------------------------------

    @invariant()
    def codes_are_unique_and_count_from_one_per_office_and_day(self):
        numbers = {}
        for office, day, number, code in self.db.execute(
            "SELECT issued_office, day, number, code FROM tickets"
        ):
            assert code == f"{LETTERS[office]}{number:03d}"
            numbers.setdefault((LETTERS[office], day), []).append(number)
        for found in numbers.values():
            assert sorted(found) == list(range(1, len(found) + 1))

    @invariant()
    def a_desk_holds_at_most_one_ticket_of_its_offices(self):
        holders = {}
        for ticket_id, status, office, desk_id in self.db.execute(
            "SELECT id, status, office, desk_id FROM tickets"
        ):
            if status in HELD:
                assert desk_id is not None and office in DESK_OFFICES[desk_id]
                holders.setdefault(desk_id, []).append(ticket_id)
            elif status in ("waiting", "outside"):
                assert desk_id is None
        assert all(len(held) == 1 for held in holders.values()), holders
        paused = {row[0] for row in self.db.execute("SELECT id FROM desks WHERE paused")}
        assert paused == self.model.paused

    @invariant()
    def occupancy_stays_within_bounds_and_matches_the_model(self):
        state = occupancy.read(self.db)
        assert 0 <= state["inside"]
        # Above the limit only as an administrator set it, and then nobody came in since.
        assert state["inside"] <= state["limit"] or self.model.crowded_by_admin
        assert (state["inside"], state["limit"]) == (self.model.inside, self.model.limit)
        assert state["full"] == (state["inside"] >= state["limit"])
        assert state["outside"] == self.model.people_outside()
        assert state["next_in"] == self.model.next_in()

    @invariant()
    def nobody_waits_outside_while_their_party_fits(self):
        """The outside queue is settled after every step: the first party that could ever
        enter does not fit now."""
        inside, limit = occupancy.counts(self.db)
        sizes = [
            row[0]
            for row in self.db.execute(
                "SELECT party_size FROM tickets WHERE status = 'outside' ORDER BY issued_at, id"
            )
        ]
        could = [size for size in sizes if size <= limit]
        if could:
            assert inside + could[0] > limit, "someone waits outside though there is room"

    @invariant()
    def each_ticket_is_let_in_at_most_once_and_only_from_outside(self):
        told = self.db.execute(
            "SELECT ticket_id, COUNT(*) FROM events WHERE type = 'ticket_admitted'"
            " GROUP BY ticket_id"
        ).fetchall()
        assert all(count == 1 for _, count in told), "a ticket was let in twice"
        admitted = {
            row[0]: row[1]
            for row in self.db.execute(
                "SELECT id, outside FROM tickets WHERE admitted_at IS NOT NULL"
            )
        }
        assert {ticket_id for ticket_id, _ in told} == set(admitted)
        assert all(admitted.values()), "let in without having waited outside"

    @invariant()
    def every_ticket_is_where_the_model_says(self):
        found = {
            row[0]: tuple(row[1:])
            for row in self.db.execute(
                "SELECT id, status, office, desk_id, recalls, outside, admitted_at FROM tickets"
            )
        }
        expected = {}
        for ticket_id, t in self.model.tickets.items():
            desk = t.desk if t.status in HELD else found.get(ticket_id, (None,) * 4)[2]
            admitted_at = stamp(t.admitted_at) if t.admitted_at else None
            expected[ticket_id] = (t.status, t.office, desk, t.recalls, int(t.outside), admitted_at)
        assert found == expected

    @invariant()
    def only_the_current_day_has_open_tickets(self):
        days = {
            row[0]
            for row in self.db.execute(
                "SELECT day FROM tickets"
                " WHERE status IN ('waiting', 'outside', 'called', 'serving')"
            )
        }
        assert days <= {self.model.day}


TownHall.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_town_hall_rules = TownHall.TestCase
