"""CSV/XLSX files and an IMAP mailbox (the real Dovecot) behind the connector interface."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from dsr.datamap import DataMap, Person
from dsr.fulfilment.connectors import ConnectorError, Step, StepAction, open_connector
from dsr.fulfilment.discovery import search_system
from tests.servers.dovecot import ImapAccount

ERIKA = Person(emails=("Erika.Mustermann@example.org",), customer_number="K-10001")
HEADER = ["kdnr", "name", "mail", "plz", "sperre"]
ROWS = [
    ["K-10001", "Erika Mustermann", "erika.mustermann@example.org", "38100", ""],
    ["K-10003", "Erika Musterfrau", "erika.musterfrau@example.org", "38100", ""],
    ["K-10009", "Erika Mustermann", "ERIKA.MUSTERMANN@EXAMPLE.ORG", "38100", ""],
]


def _map(kind: str, table: str, extra: str = "") -> DataMap:
    return DataMap.model_validate({
        "controller": "kmb2",
        "systems": [{
            "key": "files", "name": "Altdaten", "kind": kind,
            **({"path_env": "DSR_FILES"} if kind in ("csv", "xlsx") else {"url_env": "DSR_SUPPORT_IMAP"}),
            "categories": [{
                "key": "contacts", "name": "Kontakte", "table": table,
                **({"key_column": "kdnr", "columns": ["kdnr", "name", "mail", "plz"],
                    "find": [{"email": "mail"}, {"customer_number": "kdnr"}], "restrict_column": "sperre",
                    "rectifiable": ["plz"]} if kind in ("csv", "xlsx") else {}),
            }],
        }],
    })


def _csv(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(ROWS)


def _xlsx(path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Kontakte"
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    book.save(path)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_files_find_erase_restrict_update(tmp_path: Path, kind: str) -> None:
    name = f"kontakte.{kind}"
    (_csv if kind == "csv" else _xlsx)(tmp_path / name)
    datamap = _map(kind, name)
    env = {"DSR_FILES": str(tmp_path)}
    system = datamap.system("files")
    connector = open_connector(system, env)
    connector.check()
    # Case-insensitive e-mail and the customer number find two rows; the similar name does not count.
    assert search_system(system, ERIKA, env) == {"contacts": ["K-10001", "K-10009"]}
    category = system.category("contacts")
    counts = connector.execute([
        Step(category, StepAction.ERASE, ("K-10009",)),
        Step(category, StepAction.UPDATE, ("K-10001",), {"plz": "38102"}),
        Step(category, StepAction.RESTRICT, ("K-10001",)),
    ])
    assert counts == [1, 1, 1]
    rows = [r.values for r in connector.read(category, ["K-10001", "K-10003", "K-10009"])]
    assert [(r["kdnr"], r["plz"]) for r in rows] == [("K-10001", "38102"), ("K-10003", "38100")]
    if kind == "xlsx":
        sheet = load_workbook(tmp_path / name).active
        assert sheet is not None and sheet.title == "Kontakte"
        assert [c.value for c in sheet[2]] == ["K-10001", "Erika Mustermann", "erika.mustermann@example.org",
                                              "38102", "true"]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary files left
    # Anonymise: the name to a fixed text, the address to a salted hash; the row stays.
    (count,) = connector.execute([Step(category, StepAction.ANONYMISE, ("K-10001",),
                                       {"name": "anonymisiert", "mail": "{hash}"})])
    (row,) = [r.values for r in connector.read(category, ["K-10001"])]
    assert count == 1 and row["name"] == "anonymisiert" and row["plz"] == "38102"
    assert re.fullmatch(r"anon-[0-9a-f]{24}", str(row["mail"]))
    assert search_system(system, ERIKA, env) == {"contacts": ["K-10001"]}  # found by number only


def test_files_missing_column_and_file(tmp_path: Path) -> None:
    (tmp_path / "kontakte.csv").write_text("kdnr,name,mail\nK-1,A,a@example.org\n", encoding="utf-8")
    env = {"DSR_FILES": str(tmp_path)}
    with pytest.raises(ConnectorError) as caught:
        open_connector(_map("csv", "kontakte.csv").system("files"), env).check()
    assert str(caught.value) == ('system "files" (Altdaten): file \'kontakte.csv\' has no column \'plz\' '
                                 "(category 'contacts')")
    with pytest.raises(ConnectorError, match=r"no file 'fehlt\.csv' in DSR_FILES"):
        open_connector(_map("csv", "fehlt.csv").system("files"), env).check()
    with pytest.raises(ConnectorError, match="outside the directory"):
        open_connector(_map("csv", "../etc/passwd").system("files"), env).check()


def _mail(sender: str, to: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    msg.set_content(body)
    return bytes(msg)


@pytest.mark.dovecot
def test_imap_mailbox_messages_from_and_to_the_person(dovecot: ImapAccount) -> None:
    client = dovecot.client()
    client.create_folder("Support")
    client.append("Support", _mail("Erika Mustermann <erika.mustermann@example.org>", "support@kmb2.de",
                                   "Rückfrage Rechnung", "Meine Rechnung RE-2023-0001 stimmt nicht."))
    client.append("Support", _mail("support@kmb2.de", "erika.mustermann@example.org", "Re: Rückfrage",
                                   "Wir prüfen das."))
    client.append("Support", _mail("erika.musterfrau@example.org", "support@kmb2.de", "Termin",
                                   "Bitte Termin verschieben."))
    client.append("Support", _mail("xerika.mustermann@example.org", "support@kmb2.de", "Spam", "Hallo"))
    client.logout()
    datamap = _map("imap", "Support")
    env = {"DSR_SUPPORT_IMAP": dovecot.url()}
    system = datamap.system("files")
    category = system.category("contacts")
    connector = open_connector(system, env)
    connector.check()
    found = list(connector.find(category, ERIKA, []))
    assert [r.values["subject"] for r in found] == ["Rückfrage Rechnung", "Re: Rückfrage"]
    assert "RE-2023-0001" in str(found[0].values["text"])
    assert connector.execute([Step(category, StepAction.ERASE, (found[0].key,))]) == [1]
    connector.close()
    left = open_connector(system, env)
    assert [r.values["subject"] for r in left.find(category, ERIKA, [])] == ["Re: Rückfrage"]
    with pytest.raises(ConnectorError, match="a mailbox can only erase"):
        left.execute([Step(category, StepAction.RESTRICT, (found[1].key,))])
    with pytest.raises(ConnectorError, match="UIDVALIDITY changed"):
        list(left.read(category, ["1:1"]))
    left.close()
    with pytest.raises(ConnectorError, match="no folder 'Fehlt'"):
        open_connector(_map("imap", "Fehlt").system("files"), env).check()
    wrong = dovecot.url().replace(":", ":x", 2).replace("imap:x//", "imap://")
    with pytest.raises(ConnectorError, match="login refused"):
        open_connector(system, {"DSR_SUPPORT_IMAP": wrong}).check()
