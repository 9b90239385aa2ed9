"""Service configuration: `DSR_*` environment variables, optionally overlaid on a TOML file.

Read once at start-up into typed values.  Anything wrong fails with `ConfigError` whose message
is one line naming the setting and the problem; the CLI prints it without a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(Exception):
    """Invalid or missing configuration; the message is meant for the operator as is."""


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
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    smtp_auth_users: Path | None = None  # file of "user:argon2hash" lines for a relaying MTA
    trusted_authserv_id: str | None = None  # Authentication-Results we trust for DKIM/DMARC
    web_listen: str = "127.0.0.1:8080"
    web_secret_key: str | None = None
    web_cookie_secure: bool = True
    imap_url: str | None = None  # imap[s]://user:password@host:port/INBOX
    imap_processed_folder: str | None = None  # move processed mail there; else flag \Seen
    telegram_token: str | None = None
    telegram_api_url: str | None = None  # another Bot API server, e.g. a local one
    telegram_webhook_url: str | None = None
    maildir: Path = Path("./var/maildir")
    keep_attachments: bool = False
    demo: bool = False
    log_level: str = "INFO"

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

    @property
    def controller_names(self) -> list[str]:
        return [c.strip() for c in self.controller.split(",") if c.strip()]

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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment (and `config_file`); raise ConfigError on problems."""
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"--config: file {config_file} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config: {config_file} is not valid TOML: {exc}") from exc
        data = {k.lower().removeprefix("dsr_"): v for k, v in data.items()}

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
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"DSR_{name.upper()}: {msg}") from exc
