"""The queue rules: every read and write of the town hall's queues, as plain functions
``f(db, ..., actor=None, now=None)``; each write is one transaction and returns an ``Outcome``
with the journal events it recorded. All SQL lives here and in ``storage``; the shapes of
what they give back (tickets, desks, occupancy...) are the TypedDicts of ``types.py``."""
