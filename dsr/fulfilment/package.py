"""The package: a human-readable copy (accessible HTML, Art. 15(3)), the Art. 20 data (JSON and CSV
per category) and a manifest with the SHA-256 of every file, in one ZIP.

Streamed from the systems into the (encrypting) output: records are read by their keys in
chunks and written row by row, so memory stays flat however many records a person has.  The
copy carries the Art. 15(1) information for this person (purposes, categories found, recipients,
storage periods, source, automated decisions, rights, the supervisory authority) for the
relationships this person has with the controller, never the whole privacy notice, and in the
person's language (German; English for English requesters, from the profile's English texts).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import IO, Any, BinaryIO, cast
from zoneinfo import ZoneInfo

import jinja2

from dsr.controllers import ControllerProfile
from dsr.datamap import Category, DataMap, System, SystemKind
from dsr.fulfilment.connectors import Connector, Key, Value
from dsr.fulfilment.texts import copy_labels
from dsr.fulfilment.vault import EncryptingWriter
from dsr.replies.language import is_english, normalise_language

BERLIN = ZoneInfo("Europe/Berlin")
DATA_MARKER = "<!--dsr:data-->"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)


@dataclass(frozen=True, slots=True)
class Source:
    """One category of one system to include: the reviewed keys (exclusions already removed)."""

    system: System
    category: Category
    keys: tuple[Key, ...]
    excluded: int = 0
    exclusion_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    size: int
    sha256: str  # of the ZIP itself
    records: int
    files: tuple[ManifestEntry, ...] = field(default=())


class _Counting:
    """Wraps a ZIP entry stream: hashes and counts what is written."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.size += len(data)
        self.target.write(data)


def build_package(out: BinaryIO | EncryptingWriter, *, reference: str, profile: ControllerProfile,
                  datamap: DataMap, sources: Sequence[Source], connectors: Mapping[str, Connector],
                  language: str, now: datetime, relationships: Sequence[str] = ()) -> BuiltPackage:
    """Write the ZIP to `out` (e.g. a `vault.EncryptingWriter`); `connectors` by system key.

    `profile` is the controller's profile with the facts the DPO confirmed; `relationships` the
    keys of this person's relationships the DPO chose (empty: those of the data found)."""
    lang = normalise_language(language)
    entries: list[ManifestEntry] = []
    records = 0
    archive_out = cast(IO[bytes], out)
    with zipfile.ZipFile(archive_out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:

        def entry(name: str, chunks: Iterator[bytes]) -> None:
            with archive.open(name, "w", force_zip64=True) as raw:
                counting = _Counting(raw)
                for chunk in chunks:
                    counting.write(chunk)
            entries.append(ManifestEntry(name, counting.size, counting.sha256.hexdigest()))

        for source in sources:
            if not source.keys or source.system.kind is SystemKind.MANUAL:
                continue  # manual items (paper) are listed in the copy, their copies go by post
            connector = connectors[source.system.key]
            base = f"data/{source.system.key}/{source.category.key}"
            counter = [0]
            entry(f"{base}.json", _json_chunks(source, connector.read(source.category, source.keys), counter))
            records += counter[0]
            entry(f"{base}.csv", _csv_chunks(source.category, connector.read(source.category, source.keys)))
        copy_name = "Kopie_Ihrer_Daten.html" if lang == "de" else "copy_of_your_data.html"
        entry(copy_name, _html_chunks(reference=reference, profile=profile, datamap=datamap, sources=sources,
                                      connectors=connectors, lang=lang, now=now,
                                      relationships=relationships))
        manifest = {
            "reference": reference,
            "controller": profile.legal_name,
            "created_at": now.isoformat(),
            "algorithm": "SHA-256",
            "files": [{"name": e.name, "size": e.size, "sha256": e.sha256} for e in entries],
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        archive.writestr("manifest.sha256", "".join(f"{e.sha256}  {e.name}\n" for e in entries))
    sha = getattr(out, "sha256", None)
    size = getattr(out, "size", 0)
    return BuiltPackage(size=int(size), sha256=sha.hexdigest() if sha is not None else "", records=records,
                        files=tuple(entries))


def _json_chunks(source: Source, rows: Iterator[Any], counter: list[int]) -> Iterator[bytes]:
    head = {"system": source.system.name, "category": source.category.name,
            "columns": source.category.columns}
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "records": [').encode()
    first = True
    for record in rows:
        counter[0] += 1
        text = json.dumps(record.values, ensure_ascii=False)
        yield (("\n  " if first else ",\n  ") + text).encode()
        first = False
    yield b"\n]}\n"


def _csv_chunks(category: Category, rows: Iterator[Any]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(category.columns)
    for count, record in enumerate(rows, start=1):
        writer.writerow(["" if record.values.get(c) is None else record.values.get(c)
                         for c in category.columns])
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    # UTF-8 with BOM would upset other programs; spreadsheet users import as UTF-8.
    yield buffer.getvalue().encode("utf-8")


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """The Art. 15(1) and (2) items of the copy, for this person and in the copy's language.

    Only the relationships this person has with the controller (the DPO's choice, else those whose
    data categories discovery found), never the whole privacy notice; a fact the profile marks as
    assumed (not in the notice, not confirmed by the DPO) is left out rather than stated.
    """

    relationships: list[str]
    purposes: list[str]
    recipients: list[str]
    transfers: list[str]
    retention: list[str]
    sources: list[str]
    automated: list[str]
    no_automated: bool  # state "no automated decision" (confirmed, or the relationships have none)


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def person_info(profile: ControllerProfile, datamap: DataMap, found: Sequence[Source], *,
                relationships: Sequence[str], lang: str, labels: Mapping[str, str]) -> PersonInfo:
    en = is_english(lang)
    found_categories = {name for s in found for name in s.category.profile_categories}
    keys = list(relationships) or [r.key for r in profile.proposed_relationships(found_categories)]
    person = profile.selection(keys)
    purposes = []
    for p in person.purposes:
        text = _first_upper(p.purpose_en) if en else p.purpose
        if not profile.is_assumed(f"purpose.{p.key}.legal_basis"):
            interest = p.legitimate_interest_en if en else p.legitimate_interest
            text += f" ({p.legal_basis_en if en else p.legal_basis}"
            text += f"; {labels['interest']}: {interest})" if interest else ")"
        purposes.append(text)
    recipients: dict[str, None] = {}
    for source in found:
        for recipient in datamap.recipients_of(source.system, source.category):
            recipients.setdefault(recipient.name, None)
    for r in person.recipients:
        name = r.display_name_en if en else r.name
        recipients.setdefault(f"{name} – {r.purpose_en if en else r.purpose}", None)
    retention = [f"{_first_upper(r.category_en) if en else r.category}: {r.period_en if en else r.period}"
                 + (f" ({r.legal_basis_en if en else r.legal_basis})"
                    if (r.legal_basis_en if en else r.legal_basis) else "")
                 for r in person.retention if not profile.is_assumed(f"retention.{r.key}")]
    for source in found:
        if source.category.retention is not None:
            kept = source.category.retention
            retention.append(f"{source.category.label(lang)}: {kept.years} {labels['years']} ({kept.ground})")
    automated = [f"{d.name_en if en else d.name}: {d.logic_en if en else d.logic} – "
                 f"{d.significance_en if en else d.significance}" for d in person.automated_decisions]
    no_automated = not automated and bool(keys) and (
        bool(profile.automated_decisions) or not profile.is_assumed("automated_decisions.none"))
    return PersonInfo(
        relationships=[(rel.name_en if en else rel.name) for rel in person.relationships],
        purposes=purposes, recipients=list(recipients),
        transfers=[f"{t.recipient} ({t.country_en if en else t.country}): "
                   f"{t.safeguard_en if en else t.safeguard}" for t in person.third_country_transfers],
        retention=retention,
        sources=[_first_upper(english) if en else german for german, english in person.sources],
        automated=automated, no_automated=no_automated,
    )


def _html_chunks(*, reference: str, profile: ControllerProfile, datamap: DataMap, sources: Sequence[Source],
                 connectors: Mapping[str, Connector], lang: str, now: datetime,
                 relationships: Sequence[str]) -> Iterator[bytes]:
    labels = copy_labels(lang)
    found = [s for s in sources if s.keys]
    info = person_info(profile, datamap, found, relationships=relationships, lang=lang, labels=labels)

    def rows(source: Source) -> Iterator[dict[str, Value]]:
        for record in connectors[source.system.key].read(source.category, source.keys):
            yield record.values

    context = {
        "lang": lang, "t": labels, "profile": profile, "reference": reference,
        "created": now.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M"),
        "info": info,
        "found_categories": [{"label": s.category.label(lang), "count": len(s.keys), "system": s.system.name}
                             for s in found],
        "excluded": [{"label": s.category.label(lang), "count": s.excluded,
                      "reasons": "; ".join(s.exclusion_reasons)} for s in sources if s.excluded],
    }
    head, _, tail = _ENV.get_template("copy.html.j2").render(**context).partition(DATA_MARKER)
    yield head.encode("utf-8")
    for source in found:
        if source.system.kind is SystemKind.MANUAL:
            continue
        yield from _html_table(source.category.label(lang), source.system.name, source.category.columns,
                               rows(source))
    yield tail.encode("utf-8")


def _html_table(label: str, system: str, columns: list[str],
                rows: Iterator[dict[str, Value]]) -> Iterator[bytes]:
    """One accessible table (caption, column headers), written in pieces of about 64 KiB."""
    parts = [f"<table>\n<caption>{escape(label)} – {escape(system)}</caption>\n<thead><tr>",
             *(f'<th scope="col">{escape(c)}</th>' for c in columns), "</tr></thead>\n<tbody>\n"]
    size = 0
    for row in rows:
        cells = "".join("<td>–</td>" if row.get(c) is None
                        else f"<td><pre>{escape(str(row.get(c)))}</pre></td>" for c in columns)
        line = f"<tr>{cells}</tr>\n"
        parts.append(line)
        size += len(line)
        if size > 64 * 1024:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("</tbody>\n</table>\n")
    yield "".join(parts).encode("utf-8")
