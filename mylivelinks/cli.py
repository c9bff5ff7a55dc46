"""Flask CLI commands: `flask seed`, `flask users`, `flask ledger`, `flask leaderboards`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from mylivelinks.extensions import db
from mylivelinks.services.accounts import users
from mylivelinks.services.errors import ServiceError

users_cli = AppGroup("users", help="Manage users.")


@users_cli.command("create-admin")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.password_option(help="Prompted for when omitted.")
def create_admin(username: str, email: str, password: str) -> None:
    """Create an admin account."""
    if len(password) < 8:
        raise click.BadParameter("at least 8 characters", param_hint="--password")
    try:
        profile = users.register(username, email, password, role="admin")
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"admin {profile.username} created ({profile.id})")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["user", "moderator", "admin"]))
def set_role(username: str, role: str) -> None:
    """Give an existing account a role."""
    try:
        profile = users.set_role(username, role)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"{profile.username} is now {profile.role}")


@click.command("seed")
def seed() -> None:
    """Insert the reference data (idempotent)."""
    from mylivelinks.seed import seed_reference_data

    for line in seed_reference_data():
        click.echo(line)
    db.session.commit()


ledger_cli = AppGroup("ledger", help="Ledger operations.")


@ledger_cli.command("reconcile")
def reconcile_command() -> None:
    """Reconcile every cached balance with its entries now; exit 1 on a mismatch."""
    from mylivelinks.ledger.reconciliation import reconcile

    run = reconcile()
    db.session.commit()
    click.echo(
        f"accounts checked: {run.accounts_checked}, entries: {run.entries_checked}, "
        f"mismatches: {len(run.mismatches)}"
    )
    for mismatch in run.mismatches:
        click.echo(f"  {mismatch}")
    if not run.ok:
        raise SystemExit(1)


@ledger_cli.command("adjust")
@click.argument("username")
@click.option(
    "--coins",
    required=True,
    type=click.IntRange(-(10**9), 10**9),
    help="Coins to grant; negative removes.",
)
@click.option("--reason", required=True, help="Why (kept with the ledger transaction).")
@click.option("--by", "admin_name", required=True, help="The admin making the adjustment.")
def adjust_command(username: str, coins: int, reason: str, admin_name: str) -> None:
    """Grant (positive) or remove (negative) coins: an admin adjustment in the ledger."""
    import uuid

    from mylivelinks.ledger.errors import InsufficientFunds
    from mylivelinks.ledger.wallet import adjust_coins, wallet
    from mylivelinks.models.profiles import Role

    if coins == 0:
        raise click.BadParameter("must not be zero", param_hint="--coins")
    if len(reason.strip()) < 3:
        raise click.BadParameter("at least 3 characters", param_hint="--reason")
    try:
        target, admin = users.get_by_username(username), users.get_by_username(admin_name)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    if admin.role != Role.ADMIN:
        raise click.ClickException(f"{admin.username} is not an admin.")
    try:
        booked = adjust_coins(
            target.id, coins, source_ref=str(uuid.uuid4()), reason=reason.strip(), admin_id=admin.id
        )
    except InsufficientFunds:
        raise click.ClickException(f"{target.username} has fewer than {-coins} coins.") from None
    db.session.commit()
    click.echo(
        f"{coins:+d} coins for {target.username} (transaction {booked.transaction_id}); "
        f"balance {wallet(target.id).coin_balance}"
    )


leaderboards_cli = AppGroup("leaderboards", help="Leaderboards.")


@leaderboards_cli.command("rebuild")
@click.option("--now", "in_process", is_flag=True, help="Rebuild in this process, not by a worker.")
def rebuild_leaderboards_command(in_process: bool) -> None:
    """Rebuild every leaderboard from the gifts: queue the job, or run it here with --now."""
    from mylivelinks.jobs.leaderboards import enqueue_rebuild, rebuild_leaderboards

    if not in_process:
        click.echo(f"rebuild queued as job {enqueue_rebuild().id}; an RQ worker runs it")
        return
    click.echo("rebuilding the leaderboards from the gifts...")
    done = rebuild_leaderboards()
    changed = ", ".join(f"{c['board']}/{c['period']}" for c in done["changed"]) or "none"
    click.echo(
        f"rebuilt in {done['seconds']} s: {done['entries']} entries, "
        f"computed at {done['computed_at']}; top 10 changed: {changed}"
    )


def register_cli(app: Flask) -> None:
    """Attach the commands to `app`."""
    app.cli.add_command(users_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(leaderboards_cli)
    app.cli.add_command(seed)
