"""Classification throughput on one core, next to a naive substring baseline, and lexicon load time.

The mix imitates real traffic: e-mails of 1-3 KB (a request, a signature with a legal footer and,
for some, a quoted earlier message) and short chat messages.  Texts come from our own hard corpus
(tests/intents/corpus_hard.jsonl), so the benchmark needs nothing outside the repository.

Figures: lexicon load (parse, validate, compile), a cold pass (first sight of every word, fuzzy
cache empty), steady-state throughput in CPU time and wall-clock time, and the substring baseline,
measured in the same run, that only checks whether any lexicon phrase occurs in the lower-cased text
(no scope, no negation, no fuzziness, no evidence).  Issue 3 asks for at least 3,000 messages/s.

The machine is shared, so the steady state is the best of several rounds of each third of the mix
(the least disturbed), and the load average is printed with the figures.

Linear time (issue 13): one message of 1 MB each of four adversarial kinds (request words repeated,
one "word" without spaces, trigger words without sentence ends, one short request line repeated)
must classify in under a second; each is timed once in CPU time, with the 100 KB figure beside it
so that super-linear growth shows as a ratio far above 10.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from dsr.intents.classifier import Classifier, train_second_signal
from dsr.intents.lexicon import load_lexicon
from dsr.intents.scoring import read_corpus
from dsr.intents.secondsignal import CORPUS_DIR

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "intents" / "corpus_hard.jsonl"
MESSAGES = 3000
EMAIL_SHARE = 0.6
TARGET = 3000  # messages/s, issue 3
ROUNDS = 5
LOAD_TARGET_MS = 100  # issue 13
LARGE_TARGET_S = 1.0  # one 1 MB adversarial body, issue 13
ADVERSARIAL = {
    "request words repeated": "Bitte löschen Sie meine Daten und geben Sie mir Auskunft über meine Daten, "
                              "Widerspruch Werbung. ",
    "no spaces": "löschenauskunftwiderspruchwerbungeinwilligung",
    "trigger words, no sentence end":
        "löschen daten auskunft widerspruch werbung einwilligung widerruf bitte ich ",
    "one request line repeated": "Bitte löschen Sie meine Daten.\n",
}

_SIGNATURE = (
    "\n\nMit freundlichen Grüßen\n{name}\nMusterstraße 12\n38100 Braunschweig\nTel. 0531 123456\n\n"
    "Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen. Wenn Sie nicht der "
    "richtige Adressat sind oder diese E-Mail irrtümlich erhalten haben, informieren Sie bitte sofort den "
    "Absender und löschen Sie diese E-Mail. Das unerlaubte Kopieren sowie die unbefugte Weitergabe dieser "
    "Mail sind nicht gestattet. Informationen zum Datenschutz: Sie haben das Recht auf Auskunft, "
    "Berichtigung, Löschung, Einschränkung der Verarbeitung, Widerspruch und Datenübertragbarkeit.\n"
)
_QUOTE = (
    "\n\nAm 04.03.2024 um 09:12 schrieb Kundenservice <service@example.de>:\n"
    "> Sehr geehrte Kundin, sehr geehrter Kunde,\n> vielen Dank für Ihre Nachricht. Wir haben Ihr Anliegen "
    "aufgenommen und melden uns\n> schnellstmöglich. Bitte geben Sie bei Rückfragen Ihre Kundennummer an.\n"
    "> Ihre Rechnung finden Sie im Kundenportal. Zur Änderung Ihrer Adresse nutzen Sie bitte das Formular.\n"
    "> Mit freundlichen Grüßen\n> Ihr Kundenservice\n"
)


def build_mix(count: int = MESSAGES, seed: int = 7) -> list[tuple[str, str, str]]:
    """(subject, body, channel) triples: 1-3 KB e-mails and short chats in a fixed random order."""
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    emails = [r for r in records if r["channel"] == "email"]
    chats = [r for r in records if r["channel"] == "telegram"]
    rng = random.Random(seed)
    mix: list[tuple[str, str, str]] = []
    for _ in range(count):
        if rng.random() < EMAIL_SHARE:
            record = rng.choice(emails)
            body = record["body"] + _SIGNATURE.format(name=f"Kunde {rng.randint(1, 9999)}")
            while len(body.encode()) < rng.randint(1024, 3072):
                body += _QUOTE
            mix.append((record["subject"], body, "email"))
        else:
            record = rng.choice(chats)
            mix.append(("", record["body"], "telegram"))
    return mix


def _naive_keywords() -> list[str]:
    """Every plain phrase of the right rules, lower-cased: what a keyword filter would search for."""
    lexicon = load_lexicon()
    words: set[str] = set()
    for rule in lexicon.rules:
        if rule.kind != "right":
            continue
        for pattern in rule.patterns:
            if pattern.ordered and "*" not in pattern.source and "|" not in pattern.source:
                words.add(pattern.source.casefold())
    return sorted(words)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _best_of(rounds: int, mix: list[tuple[str, str, str]], work: Callable[[str, str, str], object],
             parts: int = 3) -> tuple[float, float]:
    """CPU and wall-clock seconds for the whole mix: per part the best of `rounds`, summed.

    CPU time of this process, because on a shared machine wall-clock time also counts the time
    other processes held the core; wall-clock figures are printed alongside for comparison.
    """
    size = -(-len(mix) // parts)
    chunks = [mix[i : i + size] for i in range(0, len(mix), size)]
    cpu = [float("inf")] * len(chunks)
    wall = [float("inf")] * len(chunks)
    for _ in range(rounds):
        for index, chunk in enumerate(chunks):
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            for subject, body, channel in chunk:
                work(subject, body, channel)
            cpu[index] = min(cpu[index], time.process_time() - started_cpu)
            wall[index] = min(wall[index], time.perf_counter() - started_wall)
    return sum(cpu), sum(wall)


def _adversarial(classifier: Classifier) -> list[tuple[str, float, float]]:
    """(kind, CPU seconds for 100 KB, CPU seconds for 1 MB) per adversarial body."""
    out = []
    for kind, unit in ADVERSARIAL.items():
        seconds = []
        for size in (100_000, 1_000_000):
            body = (unit * (size // len(unit) + 1))[:size]
            started = time.process_time()
            classifier.classify("Löschung", body, "email")
            seconds.append(time.process_time() - started)
        out.append((kind, seconds[0], seconds[1]))
    return out


def main() -> None:
    load_before = os.getloadavg()[0]
    loads = []
    load_walls = []
    for _ in range(5):
        started, started_wall = time.process_time(), time.perf_counter()
        classifier = Classifier(load_lexicon())
        loads.append(time.process_time() - started)
        load_walls.append(time.perf_counter() - started_wall)
    # The shipped classifier carries the learned second signal, trained once per process from the
    # corpus in the package: its training time is reported apart, and the throughput is the shipped one.
    started = time.process_time()
    records = [record for path in sorted(CORPUS_DIR.glob("*.jsonl")) for record in read_corpus(path)]
    classifier = classifier.with_second(train_second_signal(records))
    training = time.process_time() - started
    mix = build_mix()
    size = statistics.mean(len(b.encode()) for _, b, c in mix if c == "email")

    started = time.process_time()
    for subject, body, channel in mix:
        classifier.classify(subject, body, channel)
    cold = time.process_time() - started
    warm, warm_wall = _best_of(ROUNDS, mix, classifier.classify)

    keywords = _naive_keywords()

    def naive(subject: str, body: str, channel: str) -> list[str]:
        text = f"{subject}\n{body}".casefold()
        return [k for k in keywords if k in text]

    base, base_wall = _best_of(ROUNDS, mix, naive)
    rate = _rate(len(mix), warm)
    load_after = os.getloadavg()[0]

    print(f"   lexicon load (parse, validate, compile): median {statistics.median(loads) * 1000:.0f} ms "
          f"CPU time   wall clock {statistics.median(load_walls) * 1000:.0f} ms")
    print(f"   second signal training ({len(records)} labelled records, once per process): "
          f"{training * 1000:.0f} ms CPU time")
    print(f"   mix: {len(mix)} messages, {EMAIL_SHARE:.0%} e-mails (mean {size:.0f} bytes), rest chats")
    print(f"   classify, first pass (cold caches):  {_rate(len(mix), cold):8.0f} messages/s (CPU time)")
    print(f"   classify, steady state (one core):   {rate:8.0f} messages/s (CPU time)"
          f"   wall clock {_rate(len(mix), warm_wall):.0f}/s")
    print(f"   naive substring baseline ({len(keywords)} phrases): {_rate(len(mix), base):8.0f} messages/s"
          f" (CPU time)   wall clock {_rate(len(mix), base_wall):.0f}/s")
    print(f"   classify takes {warm / base:.1f}x the baseline's time; target {TARGET}/s: "
          f"{'met' if rate >= TARGET else 'NOT met'}")
    load_ms = statistics.median(loads) * 1000
    print(f"   lexicon load target {LOAD_TARGET_MS} ms: {'met' if load_ms <= LOAD_TARGET_MS else 'NOT met'}")
    for kind, small, large in _adversarial(classifier):
        verdict = "met" if large < LARGE_TARGET_S else "NOT met"
        ratio = large / small if small else float("inf")
        print(f"   1 MB adversarial body ({kind}): {large:.2f} s CPU (100 KB: {small:.3f} s, "
              f"ratio {ratio:.1f}); target < {LARGE_TARGET_S:.0f} s: {verdict}")
    print(f"   load average during the run: {load_before:.2f} -> {load_after:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
