"""The ``flask --app queue_app`` commands for setting up and running a town hall."""

import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from queue_app import seed
from queue_app.languages import LANGUAGES
from queue_app.rules import accounts, displays, history, imports, retention
from queue_app.rules.errors import QueueError
from queue_app.storage.db import get_db
from queue_app.storage.migrations import migrate


def _refusal(error):
    raise click.ClickException(str(error))


@click.command("init-db")
@with_appcontext  # also under app.test_cli_runner(), not only `flask`
def init_db_command():
    """Create or migrate the database (idempotent)."""
    db = get_db()
    migrate(db)
    click.echo(f"Database ready: {os.path.abspath(current_app.config['DATABASE'])}")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no office yet.")
@with_appcontext  # also under app.test_cli_runner(), not only `flask`
def seed_demo_command(if_empty):
    """Load the demo town hall; print its logins and display keys."""
    db = get_db()
    if if_empty and not seed.is_empty(db):
        click.echo("The database already has offices: demo not loaded.")
        return
    logins, screens = seed.seed_demo(db)
    click.echo("Demo logins (user / role / password):")
    for username, role, password in logins:
        click.echo(f"  {username:10} {role:10} {password or '(changed since the demo)'}")
    click.echo("Display screens (open /display/KEY on the TV):")
    for screen in screens:
        click.echo(f"  {screen['name']}: {screen['key']}")


@click.command("create-user")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@with_appcontext  # also under app.test_cli_runner(), not only `flask`
def create_user_command(name, role):
    """Create a staff login; the password is read from standard input."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        accounts.create_user(get_db(), name, password, role, actor="cli")
    except QueueError as error:
        _refusal(error)
    click.echo(f"User {name} created with role {role}.")


@click.command("create-token")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@with_appcontext  # also under app.test_cli_runner(), not only `flask`
def create_token_command(name, role):
    """Create an API token; it is printed once, alone on the last line."""
    try:
        token = accounts.create_token(get_db(), name, role, actor="cli").value
    except QueueError as error:
        _refusal(error)
    click.echo(f"API token {name} ({role}); keep it now, it is stored only hashed:")
    click.echo(token)


@click.command("create-display")
@click.argument("name")
@click.option("--offices", default=None, help="Office codes, comma separated (default: all).")
@click.option("--language", default="ca", type=click.Choice(LANGUAGES))
@click.option(
    "--voice",
    default="auto",
    type=click.Choice(displays.VOICES),
    help="Who says the calls: auto (the browser's voice, else the server's), browser, server.",
)
@click.option(
    "--layout",
    default="waiting_room",
    type=click.Choice(displays.LAYOUTS),
    help="waiting_room (the calls) or entrance (the screen at the door: go or wait).",
)
@with_appcontext  # also under app.test_cli_runner(), not only `flask`
def create_display_command(name, offices, language, voice, layout):
    """Create a display screen; its key is printed alone on the last line."""
    codes = [code.strip() for code in offices.split(",") if code.strip()] if offices else None
    try:
        screen = displays.create_display(
            get_db(), name, codes, language, voice=voice, layout=layout, actor="cli"
        ).value
    except QueueError as error:
        _refusal(error)
    click.echo(
        f"Display {screen['name']} showing {', '.join(screen['offices'])}"
        f" in {screen['language']}, voice {screen['voice']}, layout {screen['layout']};"
        " open /display/KEY with this key:"
    )
    click.echo(screen["key"])


@click.command("revoke-token")
@click.argument("name")
@with_appcontext
def revoke_token_command(name):
    """Revoke every live API token called NAME."""
    count = accounts.revoke_token(get_db(), name, actor="cli").value
    if not count:
        raise click.ClickException(f"No live API token is called {name}.")
    click.echo(f"Revoked {count} API token(s) called {name}.")


@click.command("rotate-display-key")
@click.argument("name")
@with_appcontext
def rotate_display_key_command(name):
    """Give a display screen a new key (printed alone on the last line); the old one stops."""
    try:
        screen = displays.rotate_key(get_db(), name, actor="cli").value
    except QueueError as error:
        _refusal(error)
    click.echo(f"New key of {screen['name']}; open /display/KEY with it:")
    click.echo(screen["key"])


@click.command("import-appointments")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--office", default=None, help="The office of rows that name none.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@with_appcontext
def import_appointments_command(path, office, dry_run):
    """Import a booking service's export (.csv or .ics); the counts on the last line."""
    kind = "text/calendar" if path.lower().endswith((".ics", ".ical")) else "text/csv"
    with open(path, "rb") as export:
        data = export.read(imports.MAX_BYTES + 1)
    try:
        result = imports.import_file(get_db(), data, kind, office, dry_run, actor="cli").value
    except QueueError as error:
        _refusal(error)
    for bad in result["errors"]:
        click.echo(f"line {bad['line']}: {bad['message']}")
    if dry_run:
        click.echo("Dry run: nothing was written.")
    click.echo(
        " ".join(
            f"{name}={result[name]}" for name in ("created", "updated", "unchanged", "cancelled")
        )
        + f" errors={len(result['errors'])}"
    )


@click.command("purge-personal-data")
@with_appcontext
def purge_personal_data_command():
    """Erase appointments' names and phones older than QUEUE_RETENTION_DAYS days."""
    erased = retention.purge(get_db()).value
    click.echo(
        f"Erased the names and phones of {erased} appointment(s) older than {retention.DAYS} days."
    )


@click.command("seed-history")
@click.option("--days", type=click.IntRange(1, 2000), default=60, help="Working days to add.")
@click.option("--per-day", type=click.IntRange(1, 5000), default=600, help="Tickets a day.")
@with_appcontext
def seed_history_command(days, per_day):
    """Fill the working days before today with plausible past days (for the statistics)."""
    db = get_db()
    if seed.is_empty(db):
        raise click.ClickException("Load the town hall first (seed-demo).")
    written = history.seed_history(db, days, per_day)
    click.echo(f"Added {written} tickets over the {days} working days before today.")


def register(app):
    """Attach the commands to the app's ``flask`` CLI."""
    for command in (
        init_db_command,
        seed_demo_command,
        create_user_command,
        create_token_command,
        create_display_command,
        revoke_token_command,
        rotate_display_key_command,
        import_appointments_command,
        purge_personal_data_command,
        seed_history_command,
    ):
        app.cli.add_command(command)
