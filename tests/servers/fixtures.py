"""Pytest plugin with the real-server fixtures (registered in tests/conftest.py).

- `smtp_sink`: an aiosmtpd server recording every message (our outbound relay in tests).
- `dovecot_server` (session) and `dovecot` (a fresh account per test): a real Dovecot IMAP server.
- `smtp_endpoint`: starts *our* SMTP server (`dsr.channels.email.smtp`) on port 0 for a given sink.
- `tls_files`: a throwaway self-signed certificate for 127.0.0.1/localhost.
- `reference_profiles`: the built-in controller profiles (kmb2, komsa).
See tests/servers/README.md for examples.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dsr.channels.email.smtp import start_smtp_server
from dsr.controllers.profile import ControllerProfile, load_profile
from dsr.inbound import MessageSink
from tests.servers.dovecot import DovecotServer, DovecotUnavailableError, ImapAccount
from tests.servers.smtp_sink import SmtpSink, running_smtp_sink
from tests.support.database import missing_server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A recording SMTP server; `smtp_sink.relay` is "127.0.0.1:<port>" for DSR_SMTP_RELAY."""
    with running_smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """One Dovecot per test session (starts in well under a second)."""
    try:
        server = DovecotServer()
    except DovecotUnavailableError:
        missing_server("Dovecot (dovecot-imapd)")
        raise  # unreachable: missing_server fails or skips
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> ImapAccount:
    """A fresh, empty IMAP account: host, port, user, password, `url(folder)`, `client()`."""
    return dovecot_server.add_account()


@pytest.fixture(scope="session")
def reference_profiles() -> dict[str, ControllerProfile]:
    return {name: load_profile(name) for name in ("kmb2", "komsa")}


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts exactly this certificate (hostname 127.0.0.1 or localhost)."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


SmtpEndpointFactory = Callable[..., Awaitable[tuple[str, int]]]


@pytest.fixture
async def smtp_endpoint(
    reference_profiles: dict[str, ControllerProfile],
) -> AsyncIterator[SmtpEndpointFactory]:
    """`await smtp_endpoint(sink, profiles=None, max_size=..., **kwargs) -> (host, port)`: our SMTP
    server on 127.0.0.1:0 in the test's event loop, closed afterwards.  Drive it with smtplib in
    a worker thread (`asyncio.to_thread`), since smtplib blocks."""
    servers: list[asyncio.Server] = []

    async def start(
        sink: MessageSink,
        profiles: Mapping[str, ControllerProfile] | None = None,
        *,
        max_size: int = 25 * 1024 * 1024,
        **kwargs: Any,
    ) -> tuple[str, int]:
        server = await start_smtp_server(
            handler=sink,
            profiles=profiles if profiles is not None else reference_profiles,
            host="127.0.0.1",
            port=0,
            max_size=max_size,
            hostname="dsr.test",
            **kwargs,
        )
        servers.append(server)
        host, port = server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()
