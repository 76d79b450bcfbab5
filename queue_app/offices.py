"""Offices and their queues."""


def list_offices(db):
    """Every office with how many tickets wait in its queue."""
    return [
        dict(row) for row in db.execute(
            "SELECT o.code, o.name, o.letter, (SELECT COUNT(*) FROM tickets t"
            " WHERE t.status = 'waiting' AND t.office = o.code) AS waiting"
            " FROM offices o ORDER BY o.position, o.code"
        )
    ]


def waiting_by_office(db, offices=None):
    """``{office: waiting}`` for the given offices (all when None)."""
    return {
        office["code"]: office["waiting"] for office in list_offices(db)
        if offices is None or office["code"] in offices
    }
