"""bot/config.py: defaults, DSR_* environment, TOML file, and one-line errors naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsr.config import ConfigError, Settings, load_settings

DSR = str(Path(sys.executable).with_name("dsr"))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DSR_* setting from the developer's shell may leak into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("DSR_") and name[4:].lower() in Settings.model_fields:
            monkeypatch.delenv(name)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dsr.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./dsr.sqlite3"
    assert settings.controller == "kmb2"
    assert settings.controller_names == ["kmb2"]
    assert settings.smtp_listen == "127.0.0.1:2525"
    assert settings.web_listen == "127.0.0.1:8080"
    assert settings.smtp_relay is None
    assert settings.imap_url is None
    assert settings.telegram_token is None
    assert settings.telegram_api_url is None
    assert settings.web_cookie_secure is True
    assert settings.demo is False
    assert settings.maildir == Path("./var/maildir")
    assert settings.smtp_max_message_size == 25 * 1024 * 1024
    assert settings.log_level == "INFO"
    assert settings.workers is None
    assert settings.worker_count == 0  # SQLite: the pipeline runs in the service process


PG = "postgresql+psycopg://u@db/dsr"


@pytest.mark.parametrize(("database_url", "workers", "cores", "expected"), [
    (PG, None, 1, 0),  # one core: a worker would only add the hand-over
    (PG, None, 2, 1),  # one core stays with the listeners and the outbox sender
    (PG, None, 8, 4),  # at most MAX_AUTO_WORKERS unless set
    (PG, 6, 2, 6),
    (PG, 0, 8, 0),
    ("sqlite:///./dsr.sqlite3", None, 8, 0),  # one writer: workers are opt-in
    ("sqlite:///./dsr.sqlite3", 2, 8, 2),
    ("sqlite://", 2, 8, 0),  # an in-memory database cannot be shared between processes
])
def test_worker_count(monkeypatch: pytest.MonkeyPatch, database_url: str, workers: int | None, cores: int,
                      expected: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert Settings(database_url=database_url, workers=workers).worker_count == expected


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        (
            "DSR_DATABASE_URL",
            "postgresql+psycopg://u@db/dsr",
            "database_url",
            "postgresql+psycopg://u@db/dsr",
        ),
        ("DSR_CONTROLLER", "kmb2, komsa", "controller_names", ["kmb2", "komsa"]),
        ("DSR_SMTP_LISTEN", "0.0.0.0:25", "smtp_listen", "0.0.0.0:25"),
        ("DSR_SMTP_LISTEN", "[::1]:2525", "smtp_listen", "[::1]:2525"),
        ("DSR_SMTP_RELAY", "mail.example.org:587", "smtp_relay", "mail.example.org:587"),
        ("DSR_SMTP_RELAY", "", "smtp_relay", None),  # empty means unset
        ("DSR_WEB_LISTEN", "127.0.0.1:0", "web_listen", "127.0.0.1:0"),
        (
            "DSR_IMAP_URL",
            "imaps://u:p@imap.example.org:993/INBOX",
            "imap_url",
            "imaps://u:p@imap.example.org:993/INBOX",
        ),
        ("DSR_TELEGRAM_TOKEN", "123:abc", "telegram_token", "123:abc"),
        (
            "DSR_TELEGRAM_API_URL",
            "http://127.0.0.1:8081/bot",
            "telegram_api_url",
            "http://127.0.0.1:8081/bot",
        ),
        ("DSR_WEB_COOKIE_SECURE", "false", "web_cookie_secure", False),
        ("DSR_WEB_COOKIE_SECURE", "0", "web_cookie_secure", False),
        ("DSR_DEMO", "yes", "demo", True),
        ("DSR_KEEP_ATTACHMENTS", "TRUE", "keep_attachments", True),
        ("DSR_SMTP_MAX_MESSAGE_SIZE", "2048", "smtp_max_message_size", 2048),
        ("DSR_MAILDIR", "/var/spool/dsr", "maildir", Path("/var/spool/dsr")),
        ("DSR_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("DSR_WORKERS", "3", "workers", 3),
    ],
)
def test_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), attribute) == expected


def test_toml_file(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path,
        'database_url = "sqlite:////srv/dsr/dsr.sqlite3"\n'
        'DSR_SMTP_LISTEN = "0.0.0.0:2525"\n'  # the DSR_ prefix is allowed, in any case
        'Web_Listen = "0.0.0.0:8080"\n'
        "web_cookie_secure = false\n"
        "smtp_max_message_size = 4096\n"
        'controller = "kmb2,komsa"\n',
    )
    settings = load_settings(config)
    assert settings.database_url == "sqlite:////srv/dsr/dsr.sqlite3"
    assert settings.smtp_listen == "0.0.0.0:2525"
    assert settings.web_listen == "0.0.0.0:8080"
    assert settings.web_cookie_secure is False
    assert settings.smtp_max_message_size == 4096
    assert settings.controller_names == ["kmb2", "komsa"]


def test_environment_beats_toml_and_overrides_beat_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write_toml(tmp_path, 'smtp_listen = "127.0.0.1:1000"\nweb_listen = "127.0.0.1:1001"\n')
    monkeypatch.setenv("DSR_SMTP_LISTEN", "127.0.0.1:2000")
    monkeypatch.setenv("DSR_WEB_LISTEN", "127.0.0.1:2001")
    settings = load_settings(config, web_listen="127.0.0.1:3001")
    assert settings.smtp_listen == "127.0.0.1:2000"
    assert settings.web_listen == "127.0.0.1:3001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "smtp_lsten = '127.0.0.1:25'\n",
            "DSR_SMTP_LSTEN: unknown setting in {file} (did you mean smtp_listen?)",
        ),
        ("bogus = 1\n", "DSR_BOGUS: unknown setting in {file}"),
        ("[smtp]\nlisten = '127.0.0.1:25'\n", "DSR_SMTP: unknown setting in {file}"),
    ],
)
def test_unknown_toml_keys_are_rejected(tmp_path: Path, text: str, expected: str) -> None:
    config = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert str(info.value) == expected.format(file=config)


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^DSR_NO_SUCH_SETTING: unknown setting$"):
        load_settings(no_such_setting=1)


# variable, value, fragment of the message after "DSR_<SETTING>: "
INVALID_ENVIRONMENT = [
    ("DSR_DATABASE_URL", "mysql://root@localhost/dsr", "expected a sqlite:/// or postgresql+psycopg:// URL"),
    ("DSR_CONTROLLER", " , ", "expected a controller profile name"),
    ("DSR_SMTP_LISTEN", "nonsense", "expected host:port (e.g. 127.0.0.1:2525), got 'nonsense'"),
    ("DSR_SMTP_LISTEN", "127.0.0.1:", "expected host:port"),
    ("DSR_SMTP_LISTEN", ":25", "expected host:port"),
    ("DSR_SMTP_RELAY", "mail.example.org", "expected host:port"),
    ("DSR_WEB_LISTEN", "127.0.0.1:65536", "expected host:port"),
    ("DSR_WEB_LISTEN", "127.0.0.1:http", "expected host:port"),
    ("DSR_SMTP_MAX_MESSAGE_SIZE", "25MB", "expected a whole number, got '25MB'"),
    ("DSR_SMTP_MAX_MESSAGE_SIZE", "1024", "must be greater than 1024, got '1024'"),
    ("DSR_WEB_COOKIE_SECURE", "maybe", "expected true or false, got 'maybe'"),
    ("DSR_DEMO", "2", "expected true or false, got '2'"),
    ("DSR_KEEP_ATTACHMENTS", "nope", "expected true or false"),
    ("DSR_LOG_LEVEL", "LOUD", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
    ("DSR_WORKERS", "-1", "greater than or equal to 0"),
    ("DSR_WORKERS", "many", "expected a whole number"),
    ("DSR_MAILDIR", " ", "must not be empty"),
    ("DSR_SMTP_AUTH_USERS", "/nonexistent/users.txt", "file /nonexistent/users.txt does not exist"),
    ("DSR_IMAP_URL", "http://user:sekret@imap.example.org/INBOX", "expected imap://"),
    ("DSR_TELEGRAM_API_URL", "127.0.0.1:8081", "expected an http:// or https:// URL"),
    ("DSR_TELEGRAM_WEBHOOK_URL", "ftp://example.org/hook", "expected an http:// or https:// URL"),
]


@pytest.mark.parametrize(("variable", "value", "fragment"), INVALID_ENVIRONMENT)
def test_invalid_values_give_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{variable}: ")
    assert fragment in message
    assert "\n" not in message
    assert "sekret" not in message  # URLs with credentials are never echoed


def test_invalid_value_rows_name_real_settings() -> None:
    """Guards the table above against renamed settings (a row for a gone setting proves nothing)."""
    covered = {variable[4:].lower() for variable, _, _ in INVALID_ENVIRONMENT}
    assert covered <= set(Settings.model_fields)
    # Settings with a validator or a non-text type; free-text settings cannot be invalid.
    validated = {
        "database_url",
        "controller",
        "smtp_listen",
        "smtp_relay",
        "web_listen",
        "log_level",
        "maildir",
    }
    assert validated <= covered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smtp_listen = 25\n", "DSR_SMTP_LISTEN: expected text, got 25 (int)"),
        ('demo = "maybe"\n', "DSR_DEMO: expected true or false, got 'maybe'"),
        ("smtp_max_message_size = 1.5\n", "DSR_SMTP_MAX_MESSAGE_SIZE: expected a whole number, got 1.5"),
        ("smtp_relay_password = 123456\n", "DSR_SMTP_RELAY_PASSWORD: expected text, got (hidden) (int)"),
        ("telegram_token = 987654\n", "DSR_TELEGRAM_TOKEN: expected text, got (hidden) (int)"),
    ],
)
def test_invalid_toml_values(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write_toml(tmp_path, text))
    assert str(info.value) == expected


def test_tls_certificate_and_key_go_together(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    cert.write_text("cert", encoding="utf-8")
    key.write_text("key", encoding="utf-8")
    monkeypatch.setenv("DSR_SMTP_TLS_CERT", str(cert))
    with pytest.raises(ConfigError, match=r"^DSR_SMTP_TLS_KEY: required together"):
        load_settings()
    monkeypatch.setenv("DSR_SMTP_TLS_KEY", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r"^DSR_SMTP_TLS_KEY: file .*missing.pem does not exist"):
        load_settings()
    monkeypatch.setenv("DSR_SMTP_TLS_KEY", str(key))
    settings = load_settings()
    assert (settings.smtp_tls_cert, settings.smtp_tls_key) == (cert, key)


def test_config_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--config: file .*missing.toml does not exist$"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"^--config: cannot read .*: Is a directory$"):
        load_settings(tmp_path)
    with pytest.raises(ConfigError, match=r"^--config: .*dsr.toml is not valid TOML: "):
        load_settings(write_toml(tmp_path, "smtp_listen = \n"))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match=r"^--config: cannot read .*binary.toml: UnicodeDecodeError$"):
        load_settings(binary)


def run_dsr(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("DSR_")}
    base["DSR_DATABASE_URL"] = f"sqlite:///{tmp_path}/dsr.sqlite3"
    return subprocess.run(
        [DSR, *args], env=base | env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [expected]


def test_cli_bad_environment_value_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_dsr(tmp_path, "db", "upgrade", DSR_SMTP_LISTEN="nonsense")
    assert_one_line_exit_2(
        result, "error: DSR_SMTP_LISTEN: expected host:port (e.g. 127.0.0.1:2525), got 'nonsense'"
    )
    assert not (tmp_path / "dsr.sqlite3").exists()


def test_cli_bad_boolean_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_dsr(tmp_path, "db", "upgrade", DSR_WEB_COOKIE_SECURE="perhaps")
    assert_one_line_exit_2(result, "error: DSR_WEB_COOKIE_SECURE: expected true or false, got 'perhaps'")


def test_cli_missing_config_file_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_dsr(tmp_path, "db", "upgrade", "--config", "nowhere.toml")
    assert_one_line_exit_2(result, "error: --config: file nowhere.toml does not exist")


def test_cli_unknown_key_in_config_file_is_one_line_exit_2(tmp_path: Path) -> None:
    write_toml(tmp_path, "web_lissten = '127.0.0.1:8080'\n")
    result = run_dsr(tmp_path, "db", "upgrade", "--config", "dsr.toml")
    assert_one_line_exit_2(
        result, "error: DSR_WEB_LISSTEN: unknown setting in dsr.toml (did you mean web_listen?)"
    )


def test_cli_reads_the_config_file(tmp_path: Path) -> None:
    write_toml(tmp_path, f"database_url = 'sqlite:///{tmp_path}/from_toml.sqlite3'\n")
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("DSR_")}
    result = subprocess.run(
        [DSR, "db", "upgrade", "--config", "dsr.toml"],
        env=base,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from_toml.sqlite3").exists()
