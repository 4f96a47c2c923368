"""``syncserver``: set up, run and administer the sync server.

Every command takes ``--db URL`` (default: ``LOYALTILL_SERVER_DB``, else
``sqlite:///./loyaltill-server.sqlite3``). Secrets (tokens, passwords) are printed once, as
JSON, and only their hashes are stored. Every command that changes something writes an audit
log row with actor ``cli`` (via ``cli``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import func, select

from shared.runtime import claim_process, tune_garbage_collector
from syncserver.cli.errors import (
    EXIT_IO,
    ServerGroup,
    failure,
    os_error_reason,
    remember_database,
    settings_failure,
)
from syncserver.errors import ApiError
from syncserver.hq.imports import CsvImportError, import_catalog, import_members
from syncserver.hq.rules import RulesConflictError, publish_rules
from syncserver.hq.setup import CLI, initialise, new_api_token
from syncserver.hq.staff import add_staff, disable_staff, staff_page
from syncserver.hq.terminals import new_setup_code, register_terminal, revoke
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import ServerSettings, utc_now
from syncserver.storage.audit import record_action
from syncserver.storage.database import Database
from syncserver.storage.migrate import SchemaNotCurrentError, check_current
from syncserver.storage.schema import audit_log
from syncserver.storage.terminals import list_terminals
from syncserver.storage.users import Role

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

__all__ = ["main", "server_config"]

F = TypeVar("F", bound=Callable[..., Any])


def db_option(command: F) -> F:
    return click.option(
        "--db",
        "db_url",
        envvar="LOYALTILL_SERVER_DB",
        default=None,
        metavar="URL",
        help="Database URL: sqlite:///file.sqlite3 or postgresql://user@host/db.",
    )(command)


def _settings(db_url: str | None, **overrides: Any) -> ServerSettings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if db_url:
        values["db"] = db_url
    try:
        settings = ServerSettings(**values)  # refuses an unsupported --db before connecting
    except ValidationError as error:
        raise settings_failure(error) from None
    remember_database(settings.db)
    return settings


@contextmanager
def _database(db_url: str | None, *, migrated: bool = True) -> Iterator[Database]:
    database = Database(_settings(db_url).db)
    try:
        if migrated:
            check_current(database)
        yield database
    except (SchemaNotCurrentError, CsvImportError, RulesConflictError, LookupError) as error:
        raise click.ClickException(str(error)) from None
    except ApiError as error:
        raise click.ClickException(error.message) from None
    finally:
        database.dispose()


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _audit_mark(database: Database) -> int:
    """The newest audit row's id: :func:`_audit` after the work looks only at rows after it."""
    with database.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar_one())


def _audit(
    database: Database,
    mark: int,
    action: str,
    target_kind: str | None = None,
    target_id: str | None = None,
    **detail: Any,
) -> None:
    """The audit row for a command whose work another module already committed — unless that
    module recorded one itself (any ``action`` row since ``mark``)."""
    with database.write() as conn:
        recorded = conn.execute(
            select(audit_log.c.id)
            .where(
                audit_log.c.id > mark,
                audit_log.c.action == action,
                audit_log.c.actor == CLI.username,
            )
            .limit(1)
        ).first()
        if recorded is None:
            record_action(
                conn,
                CLI,
                action,
                utc_now(),
                target_kind=target_kind,
                target_id=target_id,
                detail=detail,
            )


# ServerGroup: a failure in any command, this module's or another's, is one line and an exit
# code (syncserver/cli/errors.py), never a traceback.
@click.group(cls=ServerGroup)
@click.version_option(package_name="loyaltill", prog_name="syncserver")
def main() -> None:
    """LoyalTill sync server: till journals in, one reconciled points ledger out."""


def entry_point() -> None:
    """The ``syncserver`` program (the console script, ``python -m syncserver.cli``)."""
    claim_process()
    main()


@main.command()
@db_option
def init(db_url: str | None) -> None:
    """Create or migrate the database; on a new one, create the HQ admin.

    The admin's password and API token are printed once.
    """
    with _database(db_url, migrated=False) as database:
        result = initialise(database)
    output: dict[str, Any] = {
        "database": database.engine.url.render_as_string(),
        "schema": result.revision,
    }
    if result.admin is not None:
        output["admin"] = {
            "username": result.admin.username,
            "password": result.admin.password,
            "token": result.admin.token,
        }
        click.echo("Created the HQ admin; the password and token are shown only now.", err=True)
    _echo_json(output)


def server_config(
    settings: ServerSettings, *, log_level: str = "info", app: FastAPI | None = None
) -> uvicorn.Config:
    """How ``serve`` runs uvicorn for ``settings`` (syncserver.embedded.uvicorn_config, which
    the embedded server and the tests use too)."""
    from syncserver.api.app import create_app
    from syncserver.embedded import uvicorn_config

    return uvicorn_config(
        settings,
        app if app is not None else create_app(settings, daily_runs=True),
        log_level=log_level,
    )


@main.command()
@db_option
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8080; 0 picks a free one).")
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=None,
    help="Take the client address from X-Forwarded-For (only from --forwarded-allow-ips). "
    "Only behind a reverse proxy; default off (LOYALTILL_SERVER_PROXY_HEADERS).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="IPS",
    help="Comma-separated proxy addresses or networks whose X-Forwarded-For is believed "
    "(default 127.0.0.1; LOYALTILL_SERVER_FORWARDED_ALLOW_IPS).",
)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="json: one JSON object per line, a line per request on stdout instead of the access "
    "log (default text; LOYALTILL_SERVER_LOG_FORMAT).",
)
def serve(
    db_url: str | None,
    host: str | None,
    port: int | None,
    proxy_headers: bool | None,
    forwarded_allow_ips: str | None,
    log_level: str,
    log_format: str | None,
) -> None:
    """Run the API server (uvicorn).

    Behind a reverse proxy (nginx, Caddy, a load balancer) add --proxy-headers and
    --forwarded-allow-ips with the proxy's address, so the sign-in limits and the audit log
    see each client's own address (docs/hq.md)."""
    import uvicorn

    settings = _settings(
        db_url,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        log_format=log_format,
    )
    with _database(settings.db):
        pass  # refuse to start on a database that `init` has not migrated
    if settings.proxy_headers:
        click.echo(
            "Client addresses: from X-Forwarded-For when sent by "
            f"{settings.forwarded_allow_ips} (--proxy-headers)",
            err=True,
        )
    elif forwarded_allow_ips is not None:
        click.echo(
            "Note: --forwarded-allow-ips has no effect without --proxy-headers; client "
            "addresses come from the connection",
            err=True,
        )
    config = server_config(settings, log_level=log_level)
    if settings.log_format == "json":
        from syncserver.api.logs import configure_json_logging

        # After uvicorn.Config, which set up uvicorn's text logging: this replaces it.
        configure_json_logging(log_level)
    server = uvicorn.Server(config)
    tune_garbage_collector()
    with suppress(KeyboardInterrupt):
        server.run()
    if not server.started:  # e.g. the port is taken: uvicorn has logged why
        sys.exit(3)


@main.group()
def token() -> None:
    """HQ API tokens."""


@token.command("create")
@db_option
@click.option("--user", "username", required=True, help="The HQ user the token acts as.")
@click.option("--label", default=None, help="What the token is for.")
def token_create(db_url: str | None, username: str, label: str | None) -> None:
    """Create an API token for an HQ user (printed once)."""
    with _database(db_url) as database:
        _echo_json({"user": username, "token": new_api_token(database, username, label, CLI)})


@main.group()
def user() -> None:
    """HQ staff: admin (users, tills, program), manager (adjustments, exceptions), viewer."""


@user.command("add")
@db_option
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="admin, manager or viewer.",
)
@click.option("--token", "with_token", is_flag=True, help="Also create an API token.")
@click.argument("username")
def user_add(db_url: str | None, role: str, with_token: bool, username: str) -> None:
    """Add an HQ user with a random password; prints {"username", "role", "password"}
    (and "token" with --token) once."""
    with _database(db_url) as database:
        created = add_staff(database, CLI, username, role, with_token=with_token)
    output = {"username": created.username, "role": created.role.value}
    output["password"] = created.password
    if created.token is not None:
        output["token"] = created.token
    click.echo("The password (and token) are shown only now: pass them on securely.", err=True)
    _echo_json(output)


@user.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def user_list(db_url: str | None, as_json: bool) -> None:
    """HQ users with their role, when they were created and disabled, and last sign-in."""
    with _database(db_url) as database, database.read() as conn:
        records, after = [], None
        while True:
            page = staff_page(conn, after=after, limit=500)
            records.extend(page)
            if len(page) < 500:
                break
            after = page[-1].username
    if as_json:
        _echo_json(
            [
                {
                    "username": r.username,
                    "role": r.role.value,
                    "created_at": r.created_at,
                    "disabled_at": r.disabled_at,
                    "last_sign_in_at": r.last_sign_in_at,
                }
                for r in records
            ]
        )
        return

    def stamp(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "never"

    click.echo(f"{'USER':<24} {'ROLE':<8} {'CREATED':<16}  {'LAST SIGN-IN':<16}  STATE")
    for r in records:
        state = f"disabled {stamp(r.disabled_at)}" if r.disabled_at else "active"
        click.echo(
            f"{r.username:<24} {r.role.value:<8} {stamp(r.created_at):<16}  "
            f"{stamp(r.last_sign_in_at):<16}  {state}"
        )


@user.command("disable")
@db_option
@click.argument("username")
def user_disable(db_url: str | None, username: str) -> None:
    """Disable a user: their sessions end and their API tokens stop working at once."""
    with _database(db_url) as database:
        disable_staff(database, CLI, username)
    click.echo(f"{username} disabled: signed out everywhere, API tokens revoked")


@main.group()
def terminal() -> None:
    """Register and revoke tills."""


@terminal.command("add")
@db_option
@click.option("--store", "store_id", required=True, help="A store added with `store add`.")
@click.option("--name", required=True)
def terminal_add(db_url: str | None, store_id: str, name: str) -> None:
    """Register a till; prints {"terminal_id", "token", "code", …} once.

    On the till, `till setup --server URL --code CODE` trades the one-time code (24 h, single
    use) for its configuration and a fresh token (the token printed here then stops working).
    """
    with _database(db_url) as database:
        added = register_terminal(database, CLI, store_id, name)
    _echo_json(
        {
            "terminal_id": added.terminal_id,
            "token": added.token,
            "code": added.code,
            "code_expires_at": added.code_expires_at.isoformat(),
        }
    )


@terminal.command("code")
@db_option
@click.argument("terminal_id")
def terminal_code(db_url: str | None, terminal_id: str) -> None:
    """Issue a fresh one-time set-up code for `till setup` (its earlier unused codes stop
    working); prints {"terminal_id", "code", "code_expires_at"}."""
    with _database(db_url) as database:
        issued = new_setup_code(database, CLI, terminal_id)
    _echo_json(
        {
            "terminal_id": issued.terminal_id,
            "code": issued.code,
            "code_expires_at": issued.expires_at.isoformat(),
        }
    )


@terminal.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def terminal_list(db_url: str | None, as_json: bool) -> None:
    """Registered tills with their sync state."""
    with _database(db_url) as database, database.read() as conn:
        records = list_terminals(conn)
    if as_json:
        _echo_json([dataclasses.asdict(r) for r in records])
        return
    click.echo(f"{'ID':<8} {'STORE':<10} {'ACKED':>8}  {'LAST PUSH':<26} {'STATE':<8} NAME")
    for r in records:
        state = "revoked" if r.revoked else "active"
        last = r.last_push_at.isoformat() if r.last_push_at else "never"
        click.echo(
            f"{r.terminal_id:<8} {r.store_id:<10} {r.acked_seq:>8}  {last:<26} {state:<8} {r.name}"
        )


@terminal.command("revoke")
@db_option
@click.argument("terminal_id")
def terminal_revoke(db_url: str | None, terminal_id: str) -> None:
    """Refuse the till's token from now on (its stored journal stays)."""
    with _database(db_url) as database:
        revoke(database, CLI, terminal_id)
    click.echo(f"terminal {terminal_id} revoked")


@main.group()
def program() -> None:
    """Loyalty program rules."""


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        reason = os_error_reason(error, path)
        raise failure(EXIT_IO, f"cannot read {path}: {reason}") from None


def _read(path: Path) -> str:
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"{path} is not UTF-8 text ({error.reason} at byte {error.start}): save it as UTF-8"
        ) from None


@program.command("load")
@db_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def program_load(db_url: str | None, file: Path) -> None:
    """Publish a rules version (ProgramRules JSON); tills get it on their next pull."""
    text = _read(file)
    with _database(db_url) as database:
        mark = _audit_mark(database)
        try:
            result = publish_rules(database, text)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise click.ClickException(f"{file}: {where}: {first['msg']}") from None
        if result.published:
            _audit(
                database,
                mark,
                "program.publish",
                "rules_version",
                str(result.version),
                program_id=result.program_id,
                file=file.name,
            )
    verb = "published" if result.published else "already published (unchanged)"
    click.echo(f"{result.program_id} version {result.version} {verb}")


@main.group()
def members() -> None:
    """Members."""


@members.command("import")
@db_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def members_import(db_url: str | None, file: Path) -> None:
    """Import members from CSV: member_id?, name, phone, email, tier, card_number, balance.

    A balance becomes an opening-balance posting against program:adjusted. UTF-8 (with or
    without BOM) or Windows-1252, comma or semicolon separated: Excel's CSV formats.
    """
    text = _read_bytes(file)
    with _database(db_url) as database:
        mark = _audit_mark(database)
        result = import_members(database, text, region=_settings(db_url).default_country)
        _audit(
            database,
            mark,
            "members.import",
            file=file.name,
            imported=result.imported,
            skipped=len(result.skipped),
            opening_points=result.opening_points,
        )
    click.echo(
        f"imported {result.imported} members ({result.opening_points} opening points); "
        f"skipped {len(result.skipped)} that already exist"
    )


@main.group()
def catalog() -> None:
    """Products the tills sell."""


@catalog.command("import")
@db_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def catalog_import(db_url: str | None, file: Path) -> None:
    """Import products from CSV: sku, description, category, price_minor, tax_rate_bp,
    open_price (encodings and separators as for `members import`)."""
    text = _read_bytes(file)
    with _database(db_url) as database:
        mark = _audit_mark(database)
        result = import_catalog(database, text)
        _audit(
            database,
            mark,
            "catalog.import",
            file=file.name,
            added=result.added,
            changed=result.changed,
            unchanged=result.unchanged,
        )
    click.echo(f"{result.added} added, {result.changed} changed, {result.unchanged} unchanged")


@main.group()
def ledger() -> None:
    """The points ledger."""


@ledger.command("rebuild")
@db_option
@click.option("--check", is_flag=True, help="Compare the replay with the live ledger.")
def ledger_rebuild(db_url: str | None, check: bool) -> None:
    """Replay every stored entry from scratch and compare with the live ledger.

    Exits 1 naming the first difference. (Only --check exists: replacing the live ledger
    is a decision for HQ, not a command.)
    """
    if not check:
        raise click.UsageError("only `ledger rebuild --check` is supported")
    tune_garbage_collector()  # a replay allocates like an ingest of the whole history
    with _database(db_url) as database:
        report = rebuild_check(database)
    click.echo(
        f"replayed {report.entries} journal entries, {report.hq_events} HQ events and "
        f"{report.rules_versions} rules versions; {report.postings} postings compared"
    )
    if report.ok:
        click.echo("ledger OK: the replay reproduces the live ledger exactly")
        return
    click.echo(f"ledger MISMATCH — first difference: {report.differences[0]}", err=True)
    for difference in report.differences[1:]:
        click.echo(f"  also: {difference}", err=True)
    sys.exit(1)


def _as_of_option(command: F) -> F:
    return click.option(
        "--as-of",
        "as_of",
        default=None,
        metavar="YYYY-MM-DD",
        help="The day of the run (default: today in the server's time zone setting, "
        "LOYALTILL_SERVER_TIMEZONE).",
    )(command)


def _as_of(value: str | None, settings: ServerSettings) -> date:
    from syncserver.ledger.periodic import local_today

    if value is None:
        return local_today(settings.timezone)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.ClickException(
            f"--as-of {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2027-01-01"
        ) from None


def _daily_run(db_url: str | None, as_of: str | None, kind: str) -> None:
    """``tiers review`` / ``points expire``: one HQ event in one transaction, progress on
    stderr, a one-line summary on stdout."""
    from syncserver.ledger.periodic import run_points_expiry, run_tier_review

    settings = _settings(db_url)
    day = _as_of(as_of, settings)
    run = run_tier_review if kind == "tier_review" else run_points_expiry
    shown = {"at": 0}

    def progress(done: int, total: int) -> None:
        # A line per 10 % (and the last): readable in a log, not a flood at a million.
        step = max(1, total // 10)
        if done - shown["at"] >= step or done >= total:
            shown["at"] = done
            click.echo(f"  {done:,} of {total:,} members", err=True)

    with _database(db_url) as database:
        result = run(database, day, CLI, progress=progress)
    click.echo(result.summary())


@main.group()
def tiers() -> None:
    """Member tiers (docs/ledger.md, "Tiers")."""


@tiers.command("review")
@db_option
@_as_of_option
def tiers_review(db_url: str | None, as_of: str | None) -> None:
    """Review every member whose tier review date has come (idempotent).

    Members keep the tier they requalify for over the window just ended, with the program's
    grace period and "one tier down" option. `syncserver serve` runs this daily on its own.
    """
    _daily_run(db_url, as_of, "tier_review")


@main.group()
def points() -> None:
    """Points lots and expiry (docs/ledger.md, "Points lots and expiry")."""


@points.command("expire")
@db_option
@_as_of_option
def points_expire(db_url: str | None, as_of: str | None) -> None:
    """Expire the points whose last usable day is before --as-of (idempotent).

    Posts each member's expired points to program:expired; points that paid a debt made
    while they were usable are not expired (a late redemption is never overdrawn by a run).
    `syncserver serve` runs this daily on its own.
    """
    _daily_run(db_url, as_of, "points_expiry")


# Command groups in modules of their own use the helpers above, so they are added last.
from syncserver.cli.cashiers import cashier  # noqa: E402
from syncserver.cli.giftcards import giftcards  # noqa: E402
from syncserver.cli.stores import stores  # noqa: E402
from syncserver.cli.vouchers import vouchers  # noqa: E402

main.add_command(cashier)
main.add_command(stores)
main.add_command(vouchers)
main.add_command(giftcards)
