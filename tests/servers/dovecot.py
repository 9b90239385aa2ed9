"""A real Dovecot IMAP server for tests, started from a generated config in a temporary folder.

Debian's `dovecot-imapd` is used as is; nothing outside the temporary folder is touched.  The
server listens on 127.0.0.1 on a port the OS picked (Dovecot treats `port = 0` as "disabled",
so a socket is bound to port 0 first to learn a free port, then handed to Dovecot; a bind race
is retried).  Accounts live in a passwd-file which Dovecot re-reads when it changes, so one
server per test session serves a fresh account per test.

Dovecot refuses to run its login process as root and only accepts mail users at or above
`first_valid_uid`.  Running as root, the unprivileged service users are Debian's `dovecot` and
`dovenull`, and mail is stored under the `dovecot` uid; running as an ordinary user, everything
runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

DOVECOT_BINARY = "/usr/sbin/dovecot"
DOVEADM_BINARY = "/usr/bin/doveadm"
STARTUP_TIMEOUT = 15.0
ACCOUNT_POOL = 100


class DovecotUnavailableError(RuntimeError):
    """The binary is missing or the server did not come up; the message carries the log tail."""


@dataclass(frozen=True, slots=True)
class ImapAccount:
    """One mailbox account on the test server."""

    host: str
    port: int
    user: str
    password: str

    def url(self, folder: str = "INBOX") -> str:
        """The account as a `DSR_IMAP_URL` (password URL-encoded)."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"imap://{user}:{password}@{self.host}:{self.port}/{folder}"

    def client(self) -> IMAPClient:
        """A logged-in imapclient connection (caller logs out), e.g. to seed mail with `append`."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client


@dataclass(frozen=True, slots=True)
class _ServiceUsers:
    internal: str
    login: str
    mail_uid: int
    mail_gid: int


def _service_users() -> _ServiceUsers:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return _ServiceUsers(me.pw_name, me.pw_name, me.pw_uid, me.pw_gid)
    try:
        dovecot = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError as exc:
        raise DovecotUnavailableError("the dovecot/dovenull service users do not exist") from exc
    return _ServiceUsers("dovecot", "dovenull", dovecot.pw_uid, dovecot.pw_gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(root: Path, port: int, users: _ServiceUsers) -> str:
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = dsr-test-{root.name}
log_path = {root}/dovecot.log
first_valid_uid = {min(users.mail_uid, 100) or 1}
default_internal_user = {users.internal}
default_login_user = {users.login}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"""


class DovecotServer:
    """A running Dovecot master process; use as a context manager or call `start`/`stop`."""

    def __init__(self) -> None:
        if not (Path(DOVECOT_BINARY).exists() and Path(DOVEADM_BINARY).exists()):
            raise DovecotUnavailableError(f"{DOVECOT_BINARY} is not installed")
        self._users = _service_users()
        # Not under pytest's tmp_path: its parent is mode 0700 and owned by the test user, so the
        # unprivileged `dovecot` user could not reach the mail folder.
        self.root = Path(tempfile.mkdtemp(prefix="dsr-dovecot-"))
        self.root.chmod(0o755)
        self.config_path = self.root / "dovecot.conf"
        self.host = "127.0.0.1"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._accounts: list[str] = []
        self._pool: list[tuple[str, str]] = []  # (user, password) written before start-up

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        mail = self.root / "mail"
        mail.mkdir(exist_ok=True)
        os.chown(mail, self._users.mail_uid, self._users.mail_gid)
        (self.root / "passwd").write_text("", encoding="utf-8")
        self._pool = [
            (a.user, a.password) for a in (self._write_account(None, None) for _ in range(ACCOUNT_POOL))
        ]
        (self.root / "passwd").chmod(0o644)
        for _attempt in range(3):
            self.port = _free_port()
            self.config_path.write_text(_config(self.root, self.port, self._users), encoding="utf-8")
            self._process = subprocess.Popen(
                [DOVECOT_BINARY, "-F", "-c", str(self.config_path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_until_ready():
                return
            self._kill()
        raise DovecotUnavailableError(f"Dovecot did not start; log:\n{self.log_tail()}")

    def _wait_until_ready(self) -> bool:
        """Poll the port until the greeting arrives; there is no readiness signal to await."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        delay = 0.01
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False  # exited, e.g. the port was taken in the meantime
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1) as sock:
                sock.settimeout(2)
                if sock.recv(64).startswith(b"* OK"):
                    return True
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        return False

    def _kill(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "dovecot.log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if (
            self._process is not None
            and self._process.stderr is not None
            and self._process.poll() is not None
        ):
            text += self._process.stderr.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def add_account(self, user: str | None = None, password: str | None = None) -> ImapAccount:
        """A fresh, empty mailbox account.  Unnamed accounts come from a pool written at start-up,
        because Dovecot re-reads a changed passwd-file at most once per second; a named account
        is appended and waited for (login retried until Dovecot has seen it)."""
        if user is None and password is None and self._pool:
            user, password = self._pool.pop(0)
            self._accounts.append(user)
            return ImapAccount(self.host, self.port, user, password)
        account = self._write_account(user, password)
        self._accounts.append(account.user)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                account.client().logout()
                return account
            except LoginError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # no signal tells when Dovecot re-reads the file

    def _write_account(self, user: str | None, password: str | None) -> ImapAccount:
        user = user or f"user{len(self._accounts) + len(self._pool) + 1}-{secrets.token_hex(3)}"
        password = password or secrets.token_urlsafe(12) + "/@%"  # exercises URL-encoding
        if ":" in user + password or "\n" in user + password:
            raise ValueError("user and password must fit into a passwd-file line")
        home = self.root / "mail" / user
        line = f"{user}:{{PLAIN}}{password}:{self._users.mail_uid}:{self._users.mail_gid}::{home}\n"
        with (self.root / "passwd").open("a", encoding="utf-8") as passwd:
            passwd.write(line)
        return ImapAccount(self.host, self.port, user, password)

    def doveadm(self, *args: str) -> str:
        """Run `doveadm` against this instance's storage (e.g. to change a UIDVALIDITY)."""
        done = subprocess.run(
            [DOVEADM_BINARY, "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def set_uidvalidity(self, account: ImapAccount, folder: str, uidvalidity: int) -> None:
        """Give `folder` a new UIDVALIDITY, as a mailbox migration or rebuilt index does."""
        self.doveadm("mailbox", "update", "-u", account.user, "--uid-validity", str(uidvalidity), folder)


@contextlib.contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    """Start a Dovecot instance for the duration of the block."""
    server = DovecotServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
