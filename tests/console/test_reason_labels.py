"""Every escalation reason code the code base can emit has a plain-German label for the DPO.

The codes are collected from their sources, not typed in here: the classifier's list and its cue
lexicon, every `escalate(...)` / `_escalate(...)` call in the service (AST scan, module string
constants resolved) and the list in docs/ARCHITECTURE.md.  Each must be explained in the console
(`dsr.console.labels.REASONS`) and in the DPO alert (`dsr.replies.reasons.ESCALATION_REASONS_DE`).
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from dsr.console.labels import REASONS, reason_label
from dsr.intents.reasons import REASON_CODES
from dsr.replies.reasons import ESCALATION_REASONS_DE, explain_reason

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("dsr",)
ESCALATING_CALLS = frozenset({"escalate", "_escalate"})
CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _module_constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _codes_in_list(node: ast.AST, constants: dict[str, str]) -> set[str]:
    """String elements of every list/tuple literal inside `node` (names resolved to constants)."""
    codes: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.List | ast.Tuple):
            for element in inner.elts:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    codes.add(element.value)
                elif isinstance(element, ast.Name) and element.id in constants:
                    codes.add(constants[element.id])
    return codes


def codes_passed_to_escalate() -> set[str]:
    codes: set[str] = set()
    for package in SCANNED:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            constants = _module_constants(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ESCALATING_CALLS:
                    for arg in [*node.args, *(k.value for k in node.keywords)]:
                        codes |= _codes_in_list(arg, constants)
    return codes


def codes_in_cue_lexicon() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "dsr" / "intents" / "lexicon").glob("*.toml"):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        codes |= {str(cue["reason"]) for cue in data.get("cue", []) if "reason" in cue}
    return codes


def codes_in_architecture() -> set[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    start = text.index("Escalation reason codes")
    paragraph = text[start:text.index("\n\n", start)]
    return {code for code in re.findall(r"`([^`]+)`", paragraph) if CODE_RE.match(code)}


def all_emittable_codes() -> set[str]:
    return set(REASON_CODES) | codes_in_cue_lexicon() | codes_passed_to_escalate() | codes_in_architecture()


def test_the_scan_finds_the_codes_the_service_sets_itself() -> None:
    """Guards the scan: it must see the literal and the constant-named codes it is meant to find."""
    found = codes_passed_to_escalate()
    assert {"delivery_bounced", "delivery_failed", "identity_unverified", "subject_says_not_a_request",
            "low_confidence", "ambiguous"} <= found
    assert codes_in_cue_lexicon() and codes_in_cue_lexicon() <= set(REASON_CODES)


def test_every_emitted_code_is_listed_in_the_architecture() -> None:
    missing = (set(REASON_CODES) | codes_passed_to_escalate()) - codes_in_architecture()
    assert not missing, f"add to the reason code list in docs/ARCHITECTURE.md: {sorted(missing)}"


@pytest.mark.parametrize("code", sorted(all_emittable_codes()))
def test_every_reason_code_has_a_german_label_in_console_and_alert(code: str) -> None:
    assert code in REASONS, f"console/labels.py REASONS lacks {code!r}"
    assert code in ESCALATION_REASONS_DE, f"replies/reasons.py ESCALATION_REASONS_DE lacks {code!r}"
    assert reason_label(code) != code.replace("_", " ")
    assert "Unbekannter Grund-Code" not in explain_reason(code)


def test_no_label_for_a_code_nothing_emits() -> None:
    emitted = all_emittable_codes()
    assert set(REASONS) <= emitted, sorted(set(REASONS) - emitted)
    assert set(ESCALATION_REASONS_DE) <= emitted, sorted(set(ESCALATION_REASONS_DE) - emitted)
