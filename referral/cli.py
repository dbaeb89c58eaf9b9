"""Flask commands: ``flask --app referral <command>``."""

import json
import logging
import sys
from pathlib import Path

import click
from flask import Flask
from flask_babel import force_locale
from flask_migrate import upgrade
from sqlalchemy import text

from . import (
    accounts,
    api_tokens,
    directory,
    explain,
    maintenance,
    seed,
    webhooks,
    worker,
)
from .extensions import db
from .models import Organisation
from .passwords import PASSWORD_MIN_LENGTH
from .service_errors import ServiceError
from .vocabulary import SPOKEN_LANGUAGES, Role, Specialism


def _organisation(slug: str) -> Organisation:
    org = db.session.scalar(db.select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise click.ClickException(f"No organisation with slug {slug!r}.")
    return org


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db():
        """Create or upgrade the database schema (Alembic migrations)."""
        upgrade()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        click.echo("Database is up to date.")

    @app.cli.command("load-directory")
    def load_directory():
        """Load the cities and the consortium directory, no account (safe to run again)."""
        seed.load_consortium()
        db.session.commit()
        click.echo(
            "Cities and the consortium's members loaded. Give each member its real intake"
            " e-mail at /admin/organisations: the shipped ones are examples."
        )

    @app.cli.command("seed-demo")
    def seed_demo():
        """Load the cities, the consortium directory and demo accounts (safe to run again);
        refused on a site at an https PUBLIC_URL: the accounts' password is in the README."""
        if str(app.config["PUBLIC_URL"]).startswith("https://"):
            raise click.ClickException(
                "seed-demo makes accounts whose password is public, a coordinator among them:"
                " not on a real site. Use load-directory, then create-user."
            )
        logins = seed.seed_demo()
        click.echo(f"Demo logins (password: {seed.DEMO_PASSWORD}):")
        for login in logins:
            click.echo(f"  {login.email:<40} {login.organisation}")

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--org", "org_slug", help="Slug of the user's organisation.")
    @click.option("--coordinator", is_flag=True, help="A consortium coordinator.")
    @click.option("--name", default="", help="Display name (defaults to the e-mail).")
    @click.option("--language", type=click.Choice(["pl", "uk", "en"]), default="pl")
    @click.option(
        "--password-stdin", is_flag=True, required=True, help="Read the password from stdin."
    )
    def create_user(email, org_slug, coordinator, name, language, password_stdin):
        """Create a staff account (--org SLUG) or a coordinator (--coordinator)."""
        if bool(org_slug) == coordinator:
            raise click.UsageError("Give exactly one of --org SLUG or --coordinator.")
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < PASSWORD_MIN_LENGTH:
            raise click.ClickException(
                f"The password must have at least {PASSWORD_MIN_LENGTH} characters."
            )
        org = _organisation(org_slug) if org_slug else None
        email = accounts.normalise_email(email)
        try:
            accounts.create_account_with_password(
                email,
                password,
                name or email,
                org.id if org else None,
                role=Role.COORDINATOR if coordinator else Role.STAFF,
                language=language,
                by=None,
            )
        except ServiceError as error:
            raise click.ClickException("A user with this e-mail already exists.") from error
        db.session.commit()
        click.echo(f"Created {email}.")

    @app.cli.command("reset-2fa")
    @click.argument("email")
    def reset_2fa(email):
        """Switch two-step sign-in off for a lost phone (recorded in the audit trail)."""
        try:
            accounts.reset_two_factor(email, by=None)
        except ServiceError as error:
            raise click.ClickException("No user with this e-mail.") from error
        click.echo(
            "Two-step sign-in is off and every session of this account ended. The person sets "
            "it up again at their next sign-in if their role or organisation requires it."
        )

    @app.cli.command("sweep")
    def sweep():
        """Expire offers past their deadline and re-route them (safe every minute, and twice)."""
        click.echo(worker.run_job("sweep", reraise=True))

    @app.cli.command("remind")
    def remind():
        """Send the staff digests and reminders due now (the worker's remind job, alone)."""
        click.echo(worker.run_job("remind", reraise=True))

    @app.cli.command("send-mail")
    def send_mail():
        """Deliver the outbox over SMTP (MAIL_SERVER, MAIL_PORT); safe to run twice at once."""
        click.echo(worker.run_job("send_mail", reraise=True))

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Run each job that is due once and stop (cron).")
    def run_worker(once):
        """Run the background jobs (sweep, mail, SMS, webhooks, reminders, tallies, purge) when
        due, until SIGTERM; with --once, exit 1 when a job failed."""
        # From cron, only a failure prints: cron mails what a command prints.
        level = logging.WARNING if once else logging.INFO
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")
        failed = worker.Worker(list(worker.JOBS.values())).run(once=once)
        if once and failed:
            raise SystemExit(1)

    @app.cli.command("create-api-token")
    @click.option("--org", "org_slug", required=True, help="Slug of the organisation.")
    @click.option("--name", default="", help="The system that will use it (default: the slug).")
    @click.option("--read-only", is_flag=True, help="It may read, not change referrals.")
    def create_api_token(org_slug, name, read_only):
        """Issue an API token to an organisation and print it, once (audited)."""
        issued = api_tokens.issue(_organisation(org_slug).id, name, read_only, by=None)
        click.echo(
            f"Token {issued.token.name!r} for {org_slug} ({issued.token.scope}). "
            "It is shown only now; keep it secret:"
        )
        click.echo(issued.secret)

    @app.cli.command("add-webhook")
    @click.option("--org", "org_slug", required=True, help="Slug of the organisation.")
    @click.argument("url")
    def add_webhook(org_slug, url):
        """Send an organisation's referral events to URL; print the signing secret, once."""
        try:
            registered = webhooks.register(_organisation(org_slug).id, url, by=None)
        except ServiceError as error:
            raise click.ClickException(
                "Use an https:// address (http:// only to this machine), without a user name "
                "or password."
            ) from error
        click.echo(f"Webhook for {org_slug}: {url}. Signing secret, shown only now:")
        click.echo(registered.secret)

    @app.cli.command("send-webhooks")
    def send_webhooks():
        """The worker's webhook job alone: deliver the webhook outbox, signed (safe twice)."""
        click.echo(worker.run_job("send_webhooks", reraise=True))

    @app.cli.command("send-sms")
    def send_sms():
        """The worker's text message job alone: send the outbox's SMS through SMS_BACKEND."""
        click.echo(worker.run_job("send_sms", reraise=True))

    @app.cli.command("purge")
    def purge():
        """Erase the requests ended RETENTION_DAYS ago, withdraw and erase those still open
        OPEN_RETENTION_DAYS after they were sent, and forget openings older than
        ACCESS_LOG_RETENTION_DAYS: the worker's purge job alone (daily from cron)."""
        click.echo(worker.run_job("purge", reraise=True))

    @app.cli.command("rotate-keys")
    def rotate_keys():
        """Encrypt personal data again with the newest of DATA_KEYS and redo the matching hashes
        for MATCH_KEY; in batches, safe while the app runs and to run again."""
        rotation = maintenance.rotate_keys()
        for where, count in rotation.encrypted.items():
            click.echo(f"{where}: {count} encrypted again")
        click.echo(f"Matching hashes redone: {rotation.matches}")
        click.echo("Every value now opens with the newest key: older keys can be removed.")

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup(path: Path):
        """Copy the SQLite database to PATH (a new file, mode 600), consistent while the app runs.
        For PostgreSQL use pg_dump (docs/operations.md)."""
        try:
            pages = maintenance.backup_sqlite(path)
        except maintenance.NotSQLite as error:
            raise click.ClickException(
                f"backup copies SQLite databases; this one is {error}: use pg_dump "
                "(docs/operations.md)."
            ) from None
        except FileExistsError:
            raise click.ClickException(f"{path} exists: choose a new file.") from None
        click.echo(f"Copied {pages} pages to {path}.")

    @app.cli.command("route-preview")
    @click.option(
        "--need", "specialism", required=True, type=click.Choice([s.value for s in Specialism])
    )
    @click.option("--city", "city_slug", required=True, help="City slug, e.g. wroclaw.")
    @click.option(
        "--lang",
        "languages",
        multiple=True,
        type=click.Choice(SPOKEN_LANGUAGES),
        help="A language the person speaks (repeatable).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def route_preview(specialism, city_slug, languages, as_json):
        """The ranked candidates for a need in a city, with scope and reasons."""
        try:
            candidates = directory.route_preview(specialism, city_slug, languages)
        except ServiceError as error:
            raise click.ClickException(f"Unknown city {city_slug!r}.") from error
        with force_locale("en"):
            rows = [
                {
                    "org": c.organisation.slug,
                    "name": c.organisation.name,
                    "scope": str(c.scope),
                    "reasons": explain.reasons(c),
                }
                for c in candidates
            ]
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo("No organisation covers this need: the referral would be unmatched.")
        for position, row in enumerate(rows, 1):
            click.echo(f"{position}. {row['org']} ({row['scope']}): " + " · ".join(row["reasons"]))
