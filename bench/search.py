"""Site search at park scale: ``python -m bench.search``.

The catalog of the page benchmarks (``bench/catalog_data.py``: 200 courses, 5,000 lessons)
with a few paragraphs of mixed Chinese and English reading text per generated lesson, plus
1,000 salon cases and 1,000 discussion topics, indexed by ``lms.services.search.reindex``.
Then ``GET /search`` through the app in one process (the Flask test client: the view, the
query, the snippets and the page, without network or a server), for a mix of queries —
Chinese words of two and three characters, English words, mixed queries, filters by kind
and camp, later pages — by an anonymous visitor, a learner and an organizer (who also sees
drafts). Prints the index build time and the 50th and 95th percentiles of the requests:

    BENCH search_reindex_<engine> <s>
    BENCH search_p50_<engine> <ms>
    BENCH search_p95_<engine> <ms>     (target: at most 50 ms)
    BENCH search_cpu_p95_<engine> <ms> (this process's CPU time per request)

on SQLite and, when it answers, on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import bindparam

from bench import catalog_data, setup_data

CASES = 1_000
TOPICS = 1_000
REQUESTS = 400
PHRASES_ZH = (
    "创新管理", "现金流预测", "融资路演", "团队建设", "客户开发", "产品市场匹配", "股权设计",
    "风险防范", "党建工作", "数字化转型", "供应链", "品牌建设", "绩效考核", "人才招聘",
    "知识产权", "合规经营", "商业模式", "用户增长", "成本控制", "战略规划", "创业精神",
    "组织能力", "技术攻关", "市场营销", "财务报表",
)  # fmt: skip
WORDS_EN = (
    "startup", "growth", "cash", "runway", "financing", "pitch", "team", "customer",
    "product", "market", "equity", "risk", "compliance", "brand", "talent", "strategy",
    "innovation", "supply", "chain", "digital", "founder", "investor", "pricing", "sales",
)  # fmt: skip
QUERIES = (
    {"q": "创新"}, {"q": "现金流"}, {"q": "融资"}, {"q": "团队 建设"}, {"q": "风险防范"},
    {"q": "startup"}, {"q": "cash runway"}, {"q": "customer"}, {"q": "现金流 runway"},
    {"q": "创新", "kind": "lesson"}, {"q": "growth", "kind": "course"},
    {"q": "党建", "camp": "practitioner"}, {"q": "创新", "page": "3"}, {"q": "供应链 digital"},
    {"q": "品牌", "kind": "case"}, {"q": "招聘", "kind": "topic"}, {"q": "战略"},
    {"q": "investor pitch"}, {"q": "组织能力"}, {"q": "zzyzx"},
)  # fmt: skip


def _text(rng: random.Random, sentences: int) -> tuple[str, str]:
    """A few paragraphs of Chinese and of English, from the vocabulary above."""
    zh = "。".join(
        f"{rng.choice(PHRASES_ZH)}是企业{rng.choice(PHRASES_ZH)}的关键，"
        f"要结合{rng.choice(PHRASES_ZH)}和{rng.choice(PHRASES_ZH)}来推进"
        for _ in range(sentences)
    )
    en = ". ".join(
        " ".join(rng.choice(WORDS_EN) for _ in range(12)).capitalize() for _ in range(sentences)
    )
    return zh + "。", en + "."


def build(folder: Path, database_url: str) -> object:
    """The app on a fresh database holding the catalog, its texts, cases and topics."""
    os.environ.update(
        {
            "LMS_INSTANCE_PATH": str(folder / "instance"),
            "LMS_DATABASE_URL": database_url,
            "LMS_SECRET_KEY": secrets.token_hex(16),
            "LMS_MEDIA_ROOT": str(folder / "media"),
        }
    )
    from lms import create_app
    from lms.extensions import db
    from lms.models import Course, DiscussionTopic, Lesson, MediaAsset, Module, SalonCase
    from lms.services import accounts, camps

    rng = random.Random(11)
    app = create_app()
    with app.app_context():
        db.create_all()
        camps.sync()
        asset = MediaAsset(
            storage_key=f"{secrets.token_hex(16)}.webm", sha256=secrets.token_hex(32),
            original_name="bench.webm", mime_type="video/webm", size_bytes=1, status="ready",
        )  # fmt: skip
        db.session.add(asset)
        db.session.commit()
        catalog_data.populate(setup_data.PASSWORD, asset.id, learners=1)
        generated = db.session.scalars(
            db.select(Lesson.id).join(Module).join(Course).where(Course.slug.like("bench-%"))
        ).all()
        updates = []
        for lesson_id in generated:
            zh, en = _text(rng, 6)
            updates.append({"lesson_id": lesson_id, "zh": zh, "en": en})
        lessons = Lesson.__table__
        db.session.execute(
            lessons.update()
            .where(lessons.c.id == bindparam("lesson_id"))
            .values(body_zh=bindparam("zh"), body_en=bindparam("en")),
            updates,
        )
        organizer = accounts.create_user(
            "organizer@bench.example", "组织者", setup_data.PASSWORD, role="organizer"
        )
        accounts.create_user("learner@bench.example", "学员", setup_data.PASSWORD)
        now = datetime.now(UTC)
        db.session.execute(
            db.insert(SalonCase),
            [
                {"company": f"园区企业{number}", "topic": "strategy", "created_at": now,
                 "title": f"{rng.choice(PHRASES_ZH)}：{rng.choice(PHRASES_ZH)}的实践",
                 "body": _text(rng, 4)[0], "presenter_id": organizer.id}
                for number in range(CASES)
            ],
        )  # fmt: skip
        db.session.execute(
            db.insert(DiscussionTopic),
            [
                {"kind": "news", "created_at": now, "created_by_id": organizer.id,
                 "title": f"身边事：{rng.choice(PHRASES_ZH)}", "body": _text(rng, 3)[0]}
                for _ in range(TOPICS)
            ],
        )  # fmt: skip
        db.session.commit()
        setup_data.analyze(db.engine)
    return app


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(app: object, tag: str) -> None:
    from lms.extensions import db
    from lms.services import search

    with app.app_context():
        start = time.perf_counter()
        count = search.reindex()
        report(f"search_reindex_{tag}", time.perf_counter() - start, "s")
        print(f"bench: {count} documents indexed", file=sys.stderr)
        setup_data.analyze(db.engine)
    clients = [app.test_client() for _ in range(3)]
    members = ("learner@bench.example", "organizer@bench.example")
    for client, email in zip(clients[1:], members, strict=True):
        login = client.get("/login").get_data(as_text=True)
        token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        answer = client.post(
            "/login", data={"email": email, "password": setup_data.PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 302, answer.status_code
    rng = random.Random(5)
    for query in QUERIES:  # warm-up: each query once, every page compiled
        assert clients[2].get(f"/search?{urlencode(query)}").status_code == 200
    times, cpu = [], []
    for _ in range(REQUESTS):
        client, query = rng.choice(clients), rng.choice(QUERIES)
        language = rng.choice(("zh-CN", "en"))
        start, start_cpu = time.perf_counter(), time.process_time()
        answer = client.get(f"/search?{urlencode(query)}", headers={"Accept-Language": language})
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert answer.status_code == 200, (query, answer.status_code)
    report(f"search_p50_{tag}", 1000 * percentile(times, 0.50), "ms")
    report(f"search_p95_{tag}", 1000 * percentile(times, 0.95), "ms")
    # This process's CPU time (the app and, on SQLite, the database; not PostgreSQL's server):
    # what a busy machine's wall-clock figures cannot show.
    report(f"search_cpu_p95_{tag}", 1000 * percentile(cpu, 0.95), "ms")
    load = os.getloadavg()[0]
    print(f"bench: load average {load:.1f} on {os.cpu_count()} cores", file=sys.stderr)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.3f} {unit}", flush=True)


def run(postgres: str) -> None:
    with tempfile.TemporaryDirectory(prefix="lms-bench-search-") as folder:
        app = build(Path(folder), f"sqlite:///{folder}/search.sqlite3")
        measure(app, "sqlite")
    if not setup_data.postgres_reachable(postgres):
        print(f"bench: PostgreSQL not reachable at {postgres}; SQLite only", file=sys.stderr)
        return
    url = setup_data.postgres_schema_url(postgres, f"bench_search_{secrets.token_hex(4)}")
    try:
        with tempfile.TemporaryDirectory(prefix="lms-bench-search-") as folder:
            measure(build(Path(folder), url), "postgres")
    finally:
        setup_data.drop_schema(url)


if __name__ == "__main__":
    run(os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
