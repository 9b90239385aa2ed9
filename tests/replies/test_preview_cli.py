"""`dsr replies preview`: one browsable page plus text files, for legal review."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dsr.cli import app


def test_preview_writes_index_and_text_files(tmp_path: Path) -> None:
    out = tmp_path / "preview"
    result = CliRunner().invoke(app, ["replies", "preview", "--controller", "komsa", "--out", str(out)])
    assert result.exit_code == 0, result.output
    index = (out / "index.html").read_text(encoding="utf-8")
    texts = sorted(p.name for p in out.glob("*.txt"))
    # 25 data-subject kinds x (Sie, Du, English) + 6 German-only kinds (4 internal, the forward
    # to a client in processor mode and its withdrawal) + the neutral receipt + the clarification
    # after a general question (Sie, Du, English).
    assert len(texts) == 25 * 3 + 6 + 1 + 3
    assert "access_answer.de-Du.txt" in texts and "weekly_digest.de-Sie.txt" in texts
    assert "receipt_confirmation.de-Sie-unverifiziert.txt" in texts
    assert {"clarification.de-Sie-allgemeine-Frage.txt", "clarification.de-Du-allgemeine-Frage.txt",
            "clarification.en-allgemeine-Frage.txt"} <= set(texts)
    assert 'id="access_answer.en"' in index and "KOMSA AG" in index
    assert "Betreff: [DSR-2026-000123]" in (out / "no_data.de-Du.txt").read_text(encoding="utf-8")


def test_preview_rejects_unknown_controller(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["replies", "preview", "--controller", "nope", "--out", str(tmp_path)])
    assert result.exit_code != 0
