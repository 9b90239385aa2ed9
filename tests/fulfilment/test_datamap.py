"""The data map: schema rules, one-line errors naming the place, the built-in maps, `dsr datamap check`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from dsr.controllers import load_profile
from dsr.controllers.profile import PROFILE_DIR, profile_names
from dsr.datamap import DataMapError, load_datamap, load_datamap_for
from dsr.datamap.schema import is_english as datamap_is_english
from dsr.fulfilment.check import profile_problems
from dsr.replies.language import is_english as replies_is_english

DSR = Path(sys.executable).with_name("dsr")
SQL_SYSTEM = """
controller = "kmb2"
[[systems]]
key = "crm"
name = "CRM"
kind = "sql"
url_env = "DSR_CRM_KMB2_URL"
[[systems.categories]]
key = "customers"
name = "Kunden"
table = "customers"
key_column = "id"
columns = ["name", "email"]
find = [{ email = "email" }]
"""


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "acme.datamap.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    (("kind = \"sql\"\nurl_env = \"DSR_CRM_KMB2_URL\"", 'kind = "sql"'),
     'system "crm": a sql system needs url_env (the environment variable with its URL)'),
    (('url_env = "DSR_CRM_KMB2_URL"', 'url_env = "postgresql://u:secret@db/crm"'),
     'system "crm", field url_env: String should match pattern'),
    (('find = [{ email = "email" }]', ""),
     'system "crm": category \'customers\': give either find (how a person is found) or parent'),
    (('find = [{ email = "email" }]', 'find = [{ shoe_size = "email" }]'),
     "system \"crm\", category \"customers\", alternative 1, key shoe_size: Input should be 'email', "
     "'customer_number', 'phone', 'name' or 'postal_code'"),
    (('columns = ["name", "email"]', 'columns = ["name"]\non_erasure = "retain"'),
     "system \"crm\": category 'customers': on_erasure = 'retain' needs a retention"),
    (('name = "Kunden"', 'name = "Kunden"\npassword = "x"'),
     'system "crm", category "customers", field password: Extra inputs are not permitted'),
])
def test_invalid_maps_give_one_line_naming_the_place(tmp_path: Path, change: tuple[str, str],
                                                     message: str) -> None:
    old, new = change
    path = _write(tmp_path, SQL_SYSTEM.replace(old, new))
    with pytest.raises(DataMapError) as caught:
        load_datamap(path)
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: {message}"), line
    assert "secret" not in line  # a URL pasted into the map is not echoed


def test_builtin_maps_are_valid_and_match_their_profiles() -> None:
    assert profile_names() == ["kmb2", "komsa"]  # the maps beside the profiles are not profiles
    for name in profile_names():
        datamap = load_datamap_for(name)
        assert datamap is not None and (PROFILE_DIR / f"{name}.datamap.toml").exists()
        assert profile_problems(datamap, load_profile(name)) == []
        # Secrets are names of environment variables, never values.
        for system in datamap.systems:
            assert "://" not in system.url_env and "://" not in system.path_env


def test_profile_categories_must_exist_in_the_profile() -> None:
    datamap = load_datamap_for("kmb2")
    assert datamap is not None
    assert profile_problems(datamap, load_profile("komsa"))[0] == (
        "the map is for controller 'kmb2', the profile is 'komsa'")


def _check(tmp_path: Path, env: dict[str, str],
           profile: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    base.update({"DSR_DATABASE_URL": f"sqlite:///{tmp_path}/dsr.sqlite3",
                 "DSR_CONTROLLER": str(profile) if profile else "kmb2", **env})
    return subprocess.run([str(DSR), "datamap", "check"], capture_output=True, text=True, env=base,
                          cwd=tmp_path, timeout=120, check=False)


def test_datamap_check_reaches_every_system(tmp_path: Path, crm: Engine, crm_url: str) -> None:
    result = _check(tmp_path, {"DSR_CRM_KMB2_URL": crm_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'kmb2: ok: system "crm" (Auftrags- und Abrechnungssystem (CRM)): reachable, categories: 4',
        'kmb2: ok: system "paper" (Auftragsmappen (Papier), Büro Braunschweig): manual item '
        "(confirmed by the DPO), categories: 1",
    ]
    assert result.stderr == ""


def test_datamap_check_missing_secret_unreachable_database_unknown_column(tmp_path: Path, crm: Engine,
                                                                           crm_url: str) -> None:
    missing = _check(tmp_path, {})
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        'error: kmb2: system "crm" (Auftrags- und Abrechnungssystem (CRM)): environment variable '
        "DSR_CRM_KMB2_URL is not set"]

    unreachable = _check(tmp_path, {"DSR_CRM_KMB2_URL": "postgresql+psycopg://nobody:pw@127.0.0.1:1/crm"})
    assert unreachable.returncode == 1
    lines = unreachable.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        'error: kmb2: system "crm" (Auftrags- und Abrechnungssystem (CRM)): database error: ')
    assert "pw" not in lines[0].split("database error:")[1].replace("port", "")

    with crm.begin() as conn:
        conn.execute(text("ALTER TABLE orders RENAME COLUMN trade TO gewerk"))
    renamed = _check(tmp_path, {"DSR_CRM_KMB2_URL": crm_url})
    assert renamed.returncode == 1
    assert renamed.stderr.splitlines() == [
        'error: kmb2: system "crm" (Auftrags- und Abrechnungssystem (CRM)): table \'orders\' has no column '
        "'trade' (category 'orders')"]


def test_datamap_check_invalid_map_is_one_line(tmp_path: Path) -> None:
    profile = tmp_path / "acme.toml"
    shutil.copy(PROFILE_DIR / "kmb2.toml", profile)
    broken = SQL_SYSTEM.replace('table = "customers"', "")
    (tmp_path / "acme.datamap.toml").write_text(broken, encoding="utf-8")
    result = _check(tmp_path, {}, profile=profile)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'acme.datamap.toml'}: system \"crm\": category 'customers': table (table, file "
        "or folder) is required"]


def test_a_recipient_the_notice_does_not_name_is_a_problem() -> None:
    """Brief gap 6: the KOMSA demo map named a credit agency ("Creditreform") that KOMSA's notice
    does not name; Art. 19 notices and the copy would state it as a fact.  Every data map
    recipient must be one of the profile's recipients (or of a category it names)."""
    datamap = load_datamap_for("komsa")
    assert datamap is not None
    [crif] = datamap.recipients
    assert crif.profile_recipient == "crif"
    for link in ("", "nope"):
        linked = crif.model_copy(update={"profile_recipient": link})
        changed = datamap.model_copy(update={"recipients": [linked]})
        [problem] = profile_problems(changed, load_profile("komsa"))
        assert problem.startswith('recipient "crif"') and "profile_recipient" in problem


LANGUAGE_CODES = ["en", "EN", "En", "en-GB", "en_US", "EN-us", " en ", "en-", "de", "DE", "de-AT", "de_CH",
                  "fr", "", None, "eng", "english", "e", "-en", "_", "nl-BE"]


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_a_category_is_named_in_english_for_every_english_code_like_the_letters(code: str | None) -> None:
    """One rule for "is this English?": the data map's copy of it says what dsr.replies says."""
    category = load_datamap_for("kmb2").systems[0].categories[0]
    assert category.name_en and category.name_en != category.name
    english = replies_is_english(code)
    assert datamap_is_english(code) is english
    assert category.label(code) == (category.name_en if english else category.name)
