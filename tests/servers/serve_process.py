"""`dsr serve` as a real process for multi-instance and crash tests: started, read, killed.

Each process runs in its own folder (its working directory), so that the processes it leaves
behind can be found; its SMTP port (chosen by the OS) is read from its log on stderr, and every
log line is kept with the time it arrived, so a test can measure when something happened (e.g.
when an instance became leader for a singleton).
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

LISTENING = re.compile(r"SMTP endpoint on ([\d.]+):(\d+)")
DSR = str(Path(sys.executable).with_name("dsr"))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, *, every: float = 0.2) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def kill_seed() -> int:
    """The seed of a test's kill moments, printed (pytest shows it with a failure):
    `DSR_TEST_KILL_SEED=<seed>` replays a run, else every run draws a fresh one."""
    seed = int(os.environ.get("DSR_TEST_KILL_SEED") or random.SystemRandom().randrange(2**32))
    print(f"kill seed {seed} (replay with DSR_TEST_KILL_SEED={seed})")
    return seed


class ServeProcess:
    """One `dsr serve`; `env` overrides the DSR_* settings of a plain test set-up."""

    def __init__(self, folder: Path, env: dict[str, str], *, name: str = "dsr") -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        full = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
        full.update({
            "DSR_CONTROLLER": "kmb2", "DSR_SMTP_LISTEN": "127.0.0.1:0", "DSR_WEB_LISTEN": "127.0.0.1:0",
            "DSR_WEB_COOKIE_SECURE": "false", "DSR_MAILDIR": str(folder / "maildir"), "DSR_WORKERS": "0",
            **env,
        })
        self.proc = subprocess.Popen([DSR, "serve"], env=full, cwd=folder, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[tuple[float, str]] = []  # (time.monotonic(), line)
        threading.Thread(target=self._drain, daemon=True).start()
        self.port = 0

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append((time.monotonic(), line))
            self.lines.put(line)

    def wait_listening(self, timeout: float = 30) -> int:
        """Block until the SMTP endpoint is up; its port."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.name} did not start:\n{self.text()}") from None
            match = LISTENING.search(line)
            if match:
                self.port = int(match.group(2))
                return self.port

    def text(self) -> str:
        return "".join(line for _at, line in self.log)

    def first(self, needle: str) -> float | None:
        """When a log line containing `needle` arrived first (monotonic), or None."""
        return next((at for at, line in list(self.log) if needle in line), None)

    def send(self, mail_from: str, to: str, raw: bytes, timeout: float = 30) -> bool:
        """Deliver like an MTA; True on 250, False when refused temporarily or cut off."""
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=timeout) as client:
                client.sendmail(mail_from, [to], raw)
            return True
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPDataError, smtplib.SMTPResponseException,
                ConnectionError, TimeoutError, OSError):
            return False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
