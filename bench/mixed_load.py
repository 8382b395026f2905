"""A mixed load: simulated learners browse and watch, reporting progress every 10 s.

Each learner logs in, opens a playback session on the demo video, then for the whole run
sends a progress report every ``interval`` seconds (the next ``interval`` seconds of video,
as a player does) and, between reports, looks at the catalog, the course and the lesson.
Afterwards the database must hold every acknowledged report: the session's ``last_seq`` is
the highest acknowledged sequence number and its credited seconds are the sum of what the
acknowledgements said was credited. Requests run on one keep-alive connection per learner.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.setup_data import BenchData, Browser


@dataclass
class Learner:
    email: str
    cookie: str = ""
    csrf: str = ""
    session_id: str = ""
    acknowledged: dict[int, float] = field(default_factory=dict)  # seq -> credited seconds


@dataclass
class Outcome:
    requests: int = 0
    errors: int = 0
    reports: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, elapsed: float, what: str, report: bool = False) -> None:
        with self.lock:
            self.requests += 1
            self.latencies_ms.append(elapsed * 1000)
            if report and status == 200:
                self.reports += 1
            if status >= 400 or status == 0:
                self.errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{status} {what}")

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[int(len(ordered) * 0.99)] if ordered else 0.0


def sign_in(base: str, data: BenchData, learners: list[str]) -> list[Learner]:
    """Log every learner in and open a playback session (not part of the measurement)."""

    def one(email: str) -> Learner:
        browser = Browser(base)
        browser.login(email)
        token = browser.csrf("/")
        opened = browser.post_json(f"/api/lessons/{data.lesson_id}/playback", token)
        return Learner(email, browser.cookie_header, token, opened["session_id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, learners))


def run(base: str, data: BenchData, learners: list[Learner], seconds: float, interval: float):
    """Drive the load for ``seconds``; returns the :class:`Outcome`."""
    outcome = Outcome()
    course = data.lesson_path.split("/lessons/")[0] + "/"
    pages = ["/", course, data.lesson_path]
    address = urlsplit(base)
    deadline = time.monotonic() + seconds

    def learner_loop(number: int, learner: Learner) -> None:
        rng = random.Random(number)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        headers = {"Cookie": learner.cookie}

        def call(method: str, path: str, body: bytes | None = None, **extra: str):
            """One request; like a browser, it retries once on a fresh connection when the
            server had closed the idle keep-alive one (reports are idempotent by seq)."""
            nonlocal connection
            started = time.monotonic()
            for attempt in (1, 2):
                try:
                    connection.request(method, path, body=body, headers={**headers, **extra})
                    response = connection.getresponse()
                    payload = response.read()
                    return response.status, payload, time.monotonic() - started
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    connection = http.client.HTTPConnection(
                        address.hostname, address.port, timeout=30
                    )
                    if attempt == 2:
                        return 0, str(exc).encode(), time.monotonic() - started
            raise AssertionError("unreachable")

        seq, watched = 0, 0.0
        next_report = time.monotonic() + rng.uniform(0, interval)  # not all in step
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_report:
                start = watched % 55.0
                body = json.dumps(
                    {"seq": seq, "position": start + 5, "intervals": [[start, start + 5]]}
                ).encode()
                status, payload, elapsed = call(
                    "POST", f"/api/playback/{learner.session_id}/progress", body,
                    **{"X-CSRFToken": learner.csrf, "Content-Type": "application/json"},
                )  # fmt: skip
                outcome.record(status, elapsed, "progress", report=True)
                if status == 200:
                    learner.acknowledged[seq] = json.loads(payload)["credited"]
                seq, watched = seq + 1, watched + 5.0
                next_report += interval
                continue
            # Browse until the next report is due: a page every few seconds.
            pause = min(rng.uniform(2.0, 6.0), max(0.0, next_report - now))
            time.sleep(min(pause, max(0.0, deadline - now)))
            if time.monotonic() < min(next_report, deadline):
                path = rng.choice(pages)
                status, _payload, elapsed = call("GET", path)
                outcome.record(status, elapsed, path)
        connection.close()

    threads = [
        threading.Thread(target=learner_loop, args=(number, learner), daemon=True)
        for number, learner in enumerate(learners)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return outcome


def lost_reports(database_url: str, learners: list[Learner]) -> int:
    """Acknowledged reports the database does not reflect (0 when all are there)."""
    from lms import create_app
    from lms.extensions import db
    from lms.models import PlaybackSession

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-check"})
    lost = 0
    with app.app_context():
        stored = {
            row.id: row
            for row in db.session.scalars(
                db.select(PlaybackSession).where(
                    PlaybackSession.id.in_([learner.session_id for learner in learners])
                )
            )
        }
        for learner in learners:
            if not learner.acknowledged:
                continue
            row = stored.get(learner.session_id)
            credited = sum(learner.acknowledged.values())
            if row is None:
                lost += len(learner.acknowledged)
            elif row.last_seq < max(learner.acknowledged) or (
                abs(row.credited_seconds - credited) > 0.001 * len(learner.acknowledged) + 1e-6
            ):
                lost += 1
        db.session.remove()
        db.engine.dispose()
    return lost
