"""`dsr users`: console accounts and API tokens.

    dsr users add NAME --role dpo|manager|admin --controller kmb2 [--controller komsa | --all-controllers]
                                                    # asks for the password (or reads one line from stdin)
    dsr users grant NAME --controller kmb2 ...      # replace the controllers a user may see
    dsr users passwd NAME                           # new password; ends the user's console sessions
    dsr users role NAME --role dpo|manager|admin    # another role; ends the user's console sessions
    dsr users disable NAME / dsr users enable NAME
    dsr users list
    dsr users token NAME --role dpo|manager|admin|suppression|calendar --controller kmb2   # prints it once

Every account and token is bound to one or more controllers (profile keys): group companies are
separate legal entities.  `--all-controllers` grants all of them and must be given explicitly (also
for admins).
    dsr users revoke TOKEN_ID

Passwords never appear on the command line (they would end up in the shell history and the
process list): they are typed at a hidden prompt, or piped in on stdin for scripts.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlalchemy import select

from dsr.cli.common import CliError, session, settings
from dsr.console.queries import ALL_CONTROLLERS
from dsr.console.users import (
    UserProblem,
    add_user,
    controllers_problem,
    create_token,
    find_user,
    set_controllers,
    set_disabled,
    set_password,
    set_role,
)
from dsr.store.models import ApiToken, User
from dsr.store.tickets.services import audit

users_app = typer.Typer(help="Console accounts (argon2 passwords) and API tokens.", no_args_is_help=True)
ConfigOption = typer.Option(None, "--config", help="TOML configuration file (DSR_* settings).")
ControllerOption = typer.Option([], "--controller", help="controller (profile key) it may see; repeatable")
AllControllersOption = typer.Option(False, "--all-controllers", help="grant every controller, explicitly")


def _grant(controllers: list[str], all_controllers: bool) -> list[str]:
    if all_controllers and controllers:
        raise CliError("either --controller or --all-controllers, not both")
    return [ALL_CONTROLLERS] if all_controllers else controllers


def _now() -> datetime:
    return datetime.now(UTC)


def _read_password(confirm: bool = True) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    password: str = typer.prompt("Passwort", hide_input=True, confirmation_prompt=confirm)
    return password


def _ok(result: object) -> None:
    if isinstance(result, UserProblem):
        raise CliError(result.message)


@users_app.command("add")
def add(
    name: str,
    role: str = typer.Option(..., "--role", help="dpo, manager or admin"),
    controller: list[str] = ControllerOption,
    all_controllers: bool = AllControllersOption,
    config: Path | None = ConfigOption,
) -> None:
    """Create a console account bound to one or more controllers."""
    grant = _grant(controller, all_controllers)
    cfg = settings(config)
    _ok(controllers_problem(grant, cfg.controller_names))
    password = _read_password()
    with session(cfg) as s:
        result = add_user(s, username=name, role=role, password=password, now=_now(), controllers=grant,
                          known_controllers=cfg.controller_names)
        _ok(result)
        audit(s, actor="cli", action="user_added", now=_now(),
              detail={"username": name, "role": role, "controllers": grant})
        s.commit()
    typer.echo(f"user {name} ({role}) created")


@users_app.command("grant")
def grant_controllers(
    name: str,
    controller: list[str] = ControllerOption,
    all_controllers: bool = AllControllersOption,
    config: Path | None = ConfigOption,
) -> None:
    """Replace the controllers a user may see (applies to the user's next request)."""
    grant = _grant(controller, all_controllers)
    cfg = settings(config)
    with session(cfg) as s:
        _ok(set_controllers(s, username=name, controllers=grant, known_controllers=cfg.controller_names))
        audit(s, actor="cli", action="user_controllers_set", now=_now(),
              detail={"username": name, "controllers": grant})
        s.commit()
    typer.echo(f"user {name} may see: {', '.join(grant)}")


@users_app.command("passwd")
def passwd(name: str, config: Path | None = ConfigOption) -> None:
    """Set a new password (running console sessions of the user end on their next request)."""
    password = _read_password()
    with session(settings(config)) as s:
        _ok(set_password(s, username=name, password=password, now=_now()))
        audit(s, actor="cli", action="user_password_set", now=_now(), detail={"username": name})
        s.commit()
    typer.echo(f"password of {name} changed")


@users_app.command("role")
def change_role(
    name: str,
    role: str = typer.Option(..., "--role", help="dpo, manager or admin"),
    config: Path | None = ConfigOption,
) -> None:
    """Give a user another role; the user's console sessions end at once."""
    with session(settings(config)) as s:
        user = find_user(s, name)
        before = user.role if user is not None else ""
        _ok(set_role(s, username=name, role=role))
        if before == role:
            typer.echo(f"user {name} already has the role {role}")
            return
        audit(s, actor="cli", action="user_role_set", now=_now(),
              detail={"username": name, "role": role, "previous_role": before})
        s.commit()
    typer.echo(f"user {name} is now {role}; their console sessions have ended")


def _set_disabled(name: str, disabled: bool, config: Path | None) -> None:
    with session(settings(config)) as s:
        _ok(set_disabled(s, username=name, disabled=disabled))
        audit(
            s,
            actor="cli",
            action="user_disabled" if disabled else "user_enabled",
            now=_now(),
            detail={"username": name},
        )
        s.commit()
    typer.echo(f"user {name} {'disabled' if disabled else 'enabled'}")


@users_app.command("disable")
def disable(name: str, config: Path | None = ConfigOption) -> None:
    """Lock an account; its console sessions end on their next request."""
    _set_disabled(name, True, config)


@users_app.command("enable")
def enable(name: str, config: Path | None = ConfigOption) -> None:
    """Unlock an account."""
    _set_disabled(name, False, config)


@users_app.command("list")
def list_users(config: Path | None = ConfigOption) -> None:
    """Accounts and tokens (never the secrets)."""
    with session(settings(config)) as s:
        for user in s.scalars(select(User).order_by(User.username)):
            state = "disabled" if user.disabled else "active"
            typer.echo(f"user  {user.username:<24} {user.role:<12} {state:<9} {','.join(user.controllers)}")
        for token in s.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "revoked" if token.revoked else "valid"
            grant = ",".join(token.controllers) or (f"user:{token.user_id}" if token.user_id else "")
            typer.echo(f"token {token.id:<5} {token.name:<18} {token.role:<12} {state:<9} {grant}")


@users_app.command("token")
def token(
    name: str,
    role: str = typer.Option(..., "--role", help="dpo, manager, admin, suppression or calendar"),
    controller: list[str] = ControllerOption,
    all_controllers: bool = AllControllersOption,
    config: Path | None = ConfigOption,
) -> None:
    """Create an API token named NAME; the token is printed once and stored only as a digest."""
    grant = _grant(controller, all_controllers)
    cfg = settings(config)
    with session(cfg) as s:
        created = create_token(s, name=name, role=role, now=_now(), controllers=grant,
                               known_controllers=cfg.controller_names)
        if isinstance(created, UserProblem):
            raise CliError(created.message)
        row, plain = created
        audit(
            s, actor="cli", action="api_token_created", now=_now(), detail={"token_id": row.id, "role": role}
        )
        s.commit()
    typer.echo(plain)
    typer.echo(f"token {row.id} ({name}, {role}) created; it is shown only once", err=True)


@users_app.command("revoke")
def revoke(token_id: int, config: Path | None = ConfigOption) -> None:
    """Revoke an API or calendar token by its id (see `dsr users list`)."""
    with session(settings(config)) as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise CliError(f"no token with id {token_id}")
        row.revoked = True
        audit(s, actor="cli", action="api_token_revoked", now=_now(), detail={"token_id": token_id})
        s.commit()
    typer.echo(f"token {token_id} revoked")


def register(app: typer.Typer) -> None:
    """Add `dsr users` to `app`."""
    app.add_typer(users_app, name="users")
