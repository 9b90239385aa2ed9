"""Service configuration: `DSR_*` environment variables, optionally overlaid on a TOML file.

Read once at start-up into typed values.  Precedence: explicit overrides, then the environment,
then the TOML file (`dsr serve --config dsr.toml`; keys are the setting names, with or without the
`DSR_` prefix, in any case), then the defaults below.  Anything wrong fails with `ConfigError`
whose message is one line naming the setting (`DSR_<SETTING>`) and the problem; the CLI prints it
without a traceback and exits with code 2.  Values of secret settings are never echoed.

Unknown keys in the TOML file are rejected (a typo must not silently fall back to a default).
Unknown `DSR_*` environment variables are left alone: the test suite and deployment tooling use
that prefix for their own variables (e.g. `DSR_TEST_PG_URL`).  An empty environment variable for
an optional setting means "not set".
"""

from __future__ import annotations

import base64
import binascii
import difflib
import logging
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dsr.store.write_gate import lock_path_for


class ConfigError(Exception):
    """Invalid or missing configuration; the message is meant for the operator as is."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_AUTO_WORKERS = 4
# Settings whose values must never appear in an error message or a log line.
_SECRET_MARKERS = ("password", "token", "secret", "imap_url", "package_key")


def _host_port(value: str, setting: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port (e.g. 127.0.0.1:2525), got {value!r}")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DSR_", extra="forbid")

    database_url: str = "sqlite:///./dsr.sqlite3"
    # One profile name or path, or several separated by commas (group companies).
    controller: str = "kmb2"
    smtp_listen: str = "127.0.0.1:2525"
    smtp_relay: str | None = None  # outbound host:port; without it mail goes to `maildir`
    smtp_relay_user: str | None = None
    smtp_relay_password: str | None = None
    smtp_max_message_size: int = Field(default=25 * 1024 * 1024, gt=1024)
    # Resource limits of the SMTP endpoint (README "Limits"): sessions at a time (more are told
    # 421, try later), and how long one message may take before it is quarantined as too costly.
    smtp_max_sessions: int = Field(default=32, ge=1, le=10_000)
    message_time_budget_seconds: float = Field(default=20.0, gt=0, le=3600)
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    smtp_auth_users: Path | None = None  # file of "user:argon2hash" lines for a relaying MTA
    trusted_authserv_id: str | None = None  # Authentication-Results we trust for DKIM/DMARC
    web_listen: str = "127.0.0.1:8080"
    web_secret_key: str | None = None
    web_cookie_secure: bool = True
    # Reverse proxies (IP addresses) whose X-Forwarded-For the login throttle believes; comma
    # separated.  Empty: the socket peer is the client (a forwarded header is ignored).
    web_trusted_proxies: str = ""
    imap_url: str | None = None  # imap[s]://user:password@host:port/INBOX
    imap_processed_folder: str | None = None  # move processed mail there; else flag \Seen
    telegram_token: str | None = None
    telegram_api_url: str | None = None  # another Bot API server, e.g. a local one
    telegram_webhook_url: str | None = None
    telegram_controller: str | None = None  # profile the bot serves; default: the first configured
    maildir: Path = Path("./var/maildir")
    keep_attachments: bool = False
    # Per-controller reply template overrides, laid out like replies/templates/ (README "Replies").
    templates_dir: Path | None = None
    # Delete DSR records past the profiles' dsr_record_retention_years once a day (`dsr serve`).
    retention_auto_purge: bool = False
    demo: bool = False
    log_level: str = "INFO"
    # Fulfilment (dsr.fulfilment): where encrypted packages are kept, the key (32 bytes, URL-safe
    # base64; `dsr datamap keygen`), how long a download link works and how often, and the
    # public base URL of the console that links point to (default: http://<web_listen>).
    package_dir: Path = Path("./var/packages")
    package_key: str | None = None
    download_days: int = Field(default=14, ge=1, le=90)
    download_max_uses: int = Field(default=3, ge=1, le=20)
    public_url: str | None = None
    # Pipeline worker processes (`dsr.pipeline.workers`); 0: the pipeline runs inside the
    # service process; unset: see `worker_count`.
    workers: int | None = Field(default=None, ge=0, le=64)
    # Outbox delivery: temporary failures are retried for this long (a weekend relay outage loses
    # nothing), the DPO is warned once an answer has failed for `outbox_warn_after_hours`, and a
    # sender's claim on an item (its lease) lasts `outbox_lease_seconds` (README "Delivery").
    outbox_retry_days: float = Field(default=5.0, gt=0, le=60)
    outbox_warn_after_hours: float = Field(default=4.0, gt=0)
    outbox_lease_seconds: int = Field(default=600, ge=30, le=86400)
    # A reported data breach (Art. 33 GDPR, 72 hours): the scheduler reminds the DPO this many
    # hours before the notification deadline, and once more at the deadline if the ticket is open.
    breach_reminder_hours: float = Field(default=12.0, gt=0, lt=72)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        """`DSR_SMTP_RELAY=` (empty) leaves an optional setting unset instead of setting ""."""
        if isinstance(data, dict):
            return {
                key: None
                if value == "" and key in cls.model_fields and cls.model_fields[key].default is None
                else value
                for key, value in data.items()
            }
        return data

    @field_validator("smtp_listen", "web_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _host_port(value, "listen")

    @field_validator("smtp_relay")
    @classmethod
    def _relay(cls, value: str | None) -> str | None:
        return None if not value else _host_port(value, "relay")

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("controller")
    @classmethod
    def _controllers(cls, value: str) -> str:
        if not [name for name in value.split(",") if name.strip()]:
            raise ValueError("expected a controller profile name or path (e.g. kmb2, or kmb2,komsa)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @field_validator("maildir", mode="before")
    @classmethod
    def _maildir(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty: give the folder outgoing mail is written to")
        return value

    @field_validator("smtp_tls_cert", "smtp_tls_key", "smtp_auth_users")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {value} does not exist or is not a regular file")
        return value

    @field_validator("templates_dir")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"folder {value} does not exist or is not a folder")
        return value

    @field_validator("imap_url")
    @classmethod
    def _imap_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("imap://", "imaps://")):
            raise ValueError("expected imap://user:password@host:port/INBOX or imaps://...")
        return value

    @field_validator("package_key")
    @classmethod
    def _package_key(cls, value: str | None) -> str | None:
        # The same check as dsr.fulfilment.vault.parse_key (which sits above this layer).
        if value is None:
            return None
        try:
            key = base64.urlsafe_b64decode(value.strip().encode() + b"=" * (-len(value.strip()) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("expected 32 random bytes in URL-safe base64 (dsr datamap keygen)") from None
        if len(key) != 32:
            raise ValueError(f"must encode 32 bytes (AES-256), got {len(key)} (dsr datamap keygen)")
        return value

    @field_validator("telegram_api_url", "telegram_webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            missing = "DSR_SMTP_TLS_KEY" if self.smtp_tls_key is None else "DSR_SMTP_TLS_CERT"
            raise ValueError(f"{missing}: required together with the other of DSR_SMTP_TLS_CERT/KEY")
        return self

    @property
    def public_base_url(self) -> str:
        """Where the console is reached from outside (download links point there)."""
        return (self.public_url or f"http://{self.web_listen}").rstrip("/")

    @property
    def controller_names(self) -> list[str]:
        return [c.strip() for c in self.controller.split(",") if c.strip()]

    @property
    def worker_count(self) -> int:
        """How many pipeline worker processes `dsr serve` starts (0: the pipeline runs in-process).

        Unset, the choice follows what the benchmarks show (README "Performance"): on PostgreSQL
        one worker per core but one (the service process itself needs a core for the listeners and
        the outbox sender), at most MAX_AUTO_WORKERS; on SQLite none, because its single writer
        serialises the pipeline anyway and the hand-over only adds work.  An in-memory SQLite
        database cannot be shared between processes: always 0."""
        sqlite = self.database_url.startswith("sqlite")
        if sqlite and lock_path_for(self.database_url) is None:
            return 0
        if self.workers is not None:
            return self.workers
        if sqlite:
            return 0
        return max(0, min(MAX_AUTO_WORKERS, (os.cpu_count() or 1) - 1))

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]

    @staticmethod
    def split_host_port(value: str) -> tuple[str, int]:
        host, _, port = value.rpartition(":")
        return host.strip("[]"), int(port)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _read_toml(config_file: Path) -> dict[str, Any]:
    """The settings in `config_file`, keys normalised; ConfigError for anything unusable."""
    try:
        raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config: file {config_file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"--config: cannot read {config_file}: {reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {config_file} is not valid TOML: {exc}") from None
    data = {key.lower().removeprefix("dsr_"): value for key, value in raw.items()}
    for key in data:
        if key not in Settings.model_fields:
            hint = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
            suggestion = f" (did you mean {hint[0]}?)" if hint else ""
            raise ConfigError(f"DSR_{key.upper()}: unknown setting in {config_file}{suggestion}")
    return data


def _shown(name: str, value: Any) -> str:
    return "(hidden)" if any(marker in name for marker in _SECRET_MARKERS) else repr(value)


def _describe(error: ErrorDetails) -> str:
    """One operator-readable line for the first validation problem."""
    loc = error["loc"]
    name = str(loc[0]) if loc else ""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    shown = _shown(name, value)
    if kind in ("bool_parsing", "bool_type"):
        problem = f"expected true or false, got {shown}"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        problem = f"expected a whole number, got {shown}"
    elif kind == "greater_than":
        problem = f"must be greater than {ctx.get('gt')}, got {shown}"
    elif kind in ("string_type", "path_type"):
        problem = f"expected text, got {shown} ({type(value).__name__})"
    elif kind == "extra_forbidden":
        problem = "unknown setting"
    else:
        problem = str(error["msg"]).removeprefix("Value error, ")
    line = f"DSR_{name.upper()}: {problem}" if name else problem
    return " ".join(line.split())


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment (and `config_file`); raise ConfigError on problems."""
    data = _read_toml(config_file) if config_file is not None else {}

    class _Settings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _TomlSource(settings_cls, data))

    try:
        return _Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None
