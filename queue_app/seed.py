"""The demo town hall: the Casa de la Vila of Mollet del Vallès after reopening."""

from queue_app.rules import accounts, desks, displays, door, offices, schedules
from queue_app.storage.db import write_transaction

OFFICES = [
    # code, letter, name in Catalan, Spanish and English
    (
        "OAC",
        "A",
        {
            "ca": "Oficina d'Atenció Ciutadana",
            "es": "Oficina de Atención Ciudadana",
            "en": "Citizen Service Office",
        },
    ),
    (
        "OMIC",
        "C",
        {
            "ca": "Oficina Municipal d'Informació al Consumidor",
            "es": "Oficina Municipal de Información al Consumidor",
            "en": "Consumer Information Office",
        },
    ),
    (
        "OFIM",
        "I",
        {
            "ca": "Oficina d'Acollida i d'Informació als Immigrants",
            "es": "Oficina de Acogida e Información a los Inmigrantes",
            "en": "Newcomers' Welcome and Information Office",
        },
    ),
    (
        "HAB",
        "H",
        {
            "ca": "Oficina Local de l'Habitatge i SIDH",
            "es": "Oficina Local de Vivienda y SIDH",
            "en": "Local Housing Office and SIDH",
        },
    ),
    (
        "ORGT",
        "T",
        {
            "ca": "Organisme de Gestió Tributària",
            "es": "Organismo de Gestión Tributaria",
            "en": "Tax Management Office",
        },
    ),
]
DESKS = [(f"Taulell {n}", ["OAC"]) for n in range(1, 5)] + [
    ("Taulell 5", ["OMIC"]),
    ("Taulell 6", ["OFIM"]),
    ("Taulell 7", ["HAB"]),
    ("Taulell 8", ["ORGT"]),
]
USERS = [
    ("admin", "admin", "admin-demo"),
    ("gestor", "manager", "gestor-demo"),
    ("recepcio", "reception", "recepcio-demo"),
] + [(f"taulell{n}", "clerk", f"taulell{n}-demo") for n in range(1, 9)]
CAPACITY = 50
# Every office books Monday to Friday 09:00-14:00 (the schedules' default); OAC also on
# Thursday afternoons.
OAC_THURSDAY = [["09:00", "14:00"], ["16:00", "19:00"]]
DISPLAY_NAME = "Sala d'espera"
DISPLAY_MESSAGE = (
    "Cal portar mascareta i rentar-se les mans amb hidrogel. "
    "Mantingueu la distància. Entrada i sortida per itineraris diferents."
)


def is_empty(db):
    """True when no office exists yet (a database never set up)."""
    return not offices.codes(db)


def seed_demo(db):
    """Load the demo town hall (idempotent); return the logins and display screens."""
    fresh = is_empty(db)
    with write_transaction(db):
        for position, (code, letter, names) in enumerate(OFFICES):
            offices.ensure(db, code, names, letter, position)
        for position, (name, served) in enumerate(DESKS):
            desks.ensure(db, name, position, served)
    if fresh:
        door.set_counts(db, limit=CAPACITY, actor="seed-demo")
    logins = []
    for username, role, password in USERS:
        if not accounts.exists(db, username):
            accounts.create_user(db, username, password, role, actor="seed-demo")
        still_demo = accounts.authenticate(db, username, password) is not None
        logins.append((username, role, password if still_demo else None))
    if not schedules.is_set(db, "OAC"):
        hours = schedules.get(db, "OAC")["hours"]
        schedules.put(db, "OAC", {"hours": {**hours, "thu": OAC_THURSDAY}}, actor="seed-demo")
    if not any(d["name"] == DISPLAY_NAME for d in displays.list_displays(db)):
        displays.create_display(db, DISPLAY_NAME, message=DISPLAY_MESSAGE, actor="seed-demo")
    return logins, displays.list_displays(db)
