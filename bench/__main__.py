"""``python -m bench``: throughput of the progress API and of video Range requests.

Each figure is measured side by side with its baseline in the same run, on this machine,
under the production gunicorn configuration, with wrk as the load generator on 127.0.0.1,
on the catalog at park scale (4 camps, 200 courses, 5,000 lessons, 10,000 learners;
``bench/catalog_data.py``):

* progress reports (POST /api/playback/<id>/progress, logged-in learners, CSRF, real
  crediting) against a minimal Flask endpoint doing one upsert on the same database;
* 1 MiB Range requests for a lesson video through the app, and through nginx with
  ``X-Accel-Redirect`` after the app authorized them, against nginx serving the file;
* catalog, course and lesson pages for a logged-in learner against a bare Flask "hello";
* a minute of 200 simulated learners browsing and reporting progress every 10 s: errors,
  and acknowledged reports missing from the database afterwards (must both be 0);
* the monthly hours report (``lms.services.reports.monthly_hours``) over 10,000 learners in
  50 organizations and 1,000,000 training-time entries (``bench/records_data.py``), for all
  organizations and for the largest one, on SQLite and PostgreSQL (target: under 1 s);
* the ingest pipeline on a 60 s 1080p clip against the same FFmpeg command lines, its
  realtime factor and peak memory, also for a clip three times as long (``bench/transcode.py``);
* HLS segments for 200 learners' sessions on 50 lessons through nginx (``auth_request`` with
  the shipped ``deploy/nginx-media.conf``) against nginx serving the files (``bench/hls.py``).

Two *floors* bound what the app can reach here: the progress calls to playback sessions that
do not exist (logged in, CSRF-checked, answered 404 after one lookup) against the upsert, and
``/healthz`` for the logged-in learner against "hello" (docs/benchmarks.md reads them).

Prints one line per figure: ``BENCH <name> <value> <unit>``. ``python -m bench records``
runs only the report figures (no wrk or nginx needed), ``python -m bench transcode`` only
the pipeline's, ``python -m bench hls`` only the HLS segments, ``python -m bench quiz`` the
quiz figures (``bench/quiz.py``), ``python -m bench http`` the rest.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench import hls, inproc, mixed_load, plugin_reload, records_data, setup_data
from bench import quiz as quiz_bench
from bench import transcode as transcode_bench

ROOT = Path(__file__).resolve().parent.parent
# The production gunicorn configuration (deploy/gunicorn.conf.py: gthread, a worker per core,
# at least two, two threads each), without the access log and without recycling workers
# every LMS_MAX_REQUESTS requests, which at these rates would restart them every few seconds.
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
GUNICORN_ENV = {"LMS_ACCESS_LOG": "", "LMS_LOG_LEVEL": "warning", "LMS_MAX_REQUESTS": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def serve(command: list[str], port: int, env: dict[str, str], started: list | None = None):
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **GUNICORN_ENV, **env})
    if started is not None:
        started.append(process)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(
    url: str, script: Path | None, seconds: int, connections: int, timeout: int | None = None
) -> dict[str, float]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if timeout is not None:  # seconds before wrk counts a request as timed out (default 2)
        command += ["--timeout", f"{timeout}s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    units = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "bytes_per_s": float(transfer.group(1)) * units[transfer.group(2)] if transfer else 0,
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": 1 if socket_errors else 0,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else 0,
    }


def measured(
    url: str, script: Path | None, seconds: int, connections: int, timeout: int | None = None
) -> dict[str, float]:
    """wrk after a 3-second run at the same load that is thrown away: the first seconds of a
    fresh server are several times slower (workers' first requests, caches)."""
    wrk(url, script, 3, connections, timeout)
    return wrk(url, script, seconds, connections, timeout)


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.3f} {unit}", flush=True)


def bench_progress(data: setup_data.BenchData, env: dict, seconds: int, tag: str) -> None:
    app_port, base_port = free_port(), free_port()
    script = data.folder / "progress.lua"
    with serve(
        [*GUNICORN, "--bind", f"127.0.0.1:{app_port}", "lms:create_app()"], app_port, env
    ) as url:
        sessions = setup_data.open_sessions(url, data)
        setup_data.write_progress_script(script, sessions, data.watch_seconds)
        lms = measured(url, script, seconds, connections=len(data.learners))
        # The floor: the same calls for playback sessions that do not exist. Each is logged in,
        # CSRF-checked and answered 404 after one primary-key lookup — the app's fixed cost.
        floor_script = data.folder / "progress-floor.lua"
        setup_data.write_progress_script(
            floor_script, setup_data.unknown_sessions(sessions), data.watch_seconds
        )
        floor = measured(url, floor_script, seconds, connections=len(data.learners))
    base_env = {**env, "BENCH_DATABASE_URL": data.database_url}
    with serve(
        [*GUNICORN, "--bind", f"127.0.0.1:{base_port}", "bench.baseline:app"], base_port, base_env
    ) as url:
        setup_data.write_upsert_script(data.folder / "upsert.lua", len(data.learners))
        warm_up(url, ["/hello"])  # the LMS's workers were warmed by opening the sessions
        base = measured(url + "/upsert", data.folder / "upsert.lua", seconds, len(data.learners))
    report(f"progress_reports_{tag}", lms["rps"], "req/s")
    report(f"upsert_baseline_{tag}", base["rps"], "req/s")
    report(f"progress_vs_upsert_{tag}", lms["rps"] / base["rps"], "ratio")
    report(f"progress_errors_{tag}", lms["errors"] + lms["socket_errors"], "count")
    for name, value in setup_data.progress_outcome(data).items():
        report(f"progress_{name}_{tag}", value, "count")  # the expensive paths were taken
    report(f"progress_floor_{tag}", floor["rps"], "req/s")
    report(f"progress_floor_vs_upsert_{tag}", floor["rps"] / base["rps"], "ratio")


def worker_rss_mib(master: subprocess.Popen) -> float:
    """The largest resident size among the gunicorn master's worker processes, in MiB."""
    largest = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master.pid):
            largest = max(largest, int(fields.get("VmRSS", "0 kB").split()[0]))
    return largest / 1024


def warm_up(base: str, paths: list[str], cookie: str = "", rounds: int = 20) -> None:
    """Request each page a few times first: every worker has booted and loaded its app, so
    the measurement does not include start-up."""
    for _ in range(rounds):
        for path in paths:
            request = urllib.request.Request(base + path, headers={"Cookie": cookie})
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()


def bench_pages(data: setup_data.BenchData, env: dict, seconds: int, tag: str) -> None:
    """Catalog, course and lesson pages for a logged-in learner against a bare "hello"."""
    app_port, base_port = free_port(), free_port()
    script = data.folder / "pages.lua"
    course = data.lesson_path.split("/lessons/")[0] + "/"
    paths = ["/", course, data.lesson_path]
    masters: list = []
    with serve(
        [*GUNICORN, "--bind", f"127.0.0.1:{app_port}", "lms:create_app()"], app_port, env, masters
    ) as url:
        if not data.cookie_header:  # the progress part logs the learners in; alone, one here
            browser = setup_data.Browser(url)
            browser.login(data.learners[0])
            data.cookie_header = browser.cookie_header
        setup_data.write_pages_script(script, paths, data.cookie_header)
        warm_up(url, paths, data.cookie_header)
        pages = measured(url, script, seconds, connections=32)
        rss = worker_rss_mib(masters[0])
        # The floor: the same learner asking /healthz (one SELECT 1, a small JSON answer).
        floor_script = data.folder / "pages-floor.lua"
        setup_data.write_pages_script(floor_script, ["/healthz"], data.cookie_header)
        floor = measured(url, floor_script, seconds, connections=32)
    base_env = {**env, "BENCH_DATABASE_URL": data.database_url}
    with serve(
        [*GUNICORN, "--bind", f"127.0.0.1:{base_port}", "bench.baseline:app"], base_port, base_env
    ) as url:
        warm_up(url, ["/hello"])
        hello = measured(url + "/hello", None, seconds, connections=32)
    report(f"pages_learner_{tag}", pages["rps"], "req/s")
    report(f"hello_baseline_{tag}", hello["rps"], "req/s")
    report(f"pages_vs_hello_{tag}", pages["rps"] / hello["rps"], "ratio")
    report(f"pages_p99_{tag}", pages["p99_ms"], "ms")
    report(f"pages_errors_{tag}", pages["errors"] + pages["socket_errors"], "count")
    report(f"pages_floor_{tag}", floor["rps"], "req/s")
    report(f"pages_floor_vs_hello_{tag}", floor["rps"] / hello["rps"], "ratio")
    report(f"worker_rss_after_load_{tag}", rss, "MiB")


def bench_mixed(data: setup_data.BenchData, env: dict, seconds: int, tag: str) -> None:
    """200 learners browsing and watching for a minute; every acknowledged report kept."""
    port = free_port()
    with serve([*GUNICORN, "--bind", f"127.0.0.1:{port}", "lms:create_app()"], port, env) as url:
        learners = mixed_load.sign_in(url, data, data.crowd)
        outcome = mixed_load.run(url, data, learners, seconds, interval=10)
    # The server has stopped (SIGTERM, graceful): what it acknowledged must be stored.
    lost = mixed_load.lost_reports(data.database_url, learners)
    for sample in outcome.error_samples:
        print(f"bench: mixed load error: {sample}", file=sys.stderr)
    report(f"mixed_learners_{tag}", len(learners), "learners")
    report(f"mixed_requests_{tag}", outcome.requests, "requests")
    report(f"mixed_reports_acknowledged_{tag}", outcome.reports, "reports")
    report(f"mixed_errors_{tag}", outcome.errors, "count")
    report(f"mixed_reports_lost_{tag}", lost, "count")
    report(f"mixed_p99_{tag}", outcome.p99_ms(), "ms")


def bench_startup(env: dict) -> None:
    """Seconds to import the package and build the app with the four camps (best of 3)."""
    code = "import time; t = time.perf_counter(); from lms import create_app; create_app(); "
    code += "print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
        )
        for _ in range(3)
    ]
    report("app_startup", min(runs), "s")


NGINX_CONF = (
    setup_data.NGINX_HEAD.replace("{name}", "nginx")
    + """
  types {{ video/webm webm; }}
  server {{
    listen 127.0.0.1:{port};
    location /direct/ {{ alias {media}/; }}
    location /protected-media/ {{ internal; alias {media}/; }}
    location / {{ proxy_pass http://lms_app; }}
  }}
  server {{
    listen 127.0.0.1:{cached_port};
    include {folder}/nginx-media.conf;
    location /protected-media/ {{ internal; alias {media}/; }}
    location / {{ proxy_pass http://lms_app; }}
  }}
}}
"""
)


def bench_range(data: setup_data.BenchData, env: dict, seconds: int) -> None:
    if shutil.which("nginx") is None:
        print("BENCH range_skipped 0 (nginx not installed: apt-get install nginx-light)")
        return
    app_port, accel_port, nginx_port, cached_port = (free_port() for _ in range(4))
    folder = data.folder
    (folder / "nginx.conf").write_text(
        NGINX_CONF.format(
            folder=folder, port=nginx_port, cached_port=cached_port, media=data.media_root,
            app_port=accel_port,
        )
    )  # fmt: skip
    # The shipped snippet: nginx asks the app (auth_request) and caches a yes for 10 s.
    snippet = (ROOT / "deploy" / "nginx-media.conf").read_text()
    snippet = snippet.replace("/srv/lms/media", str(data.media_root))
    (folder / "nginx-media.conf").write_text(snippet)
    script = folder / "range.lua"
    setup_data.write_range_script(script, data.video_size, data.cookie_header)
    accel_env = {**env, "LMS_MEDIA_ACCEL_REDIRECT": "/protected-media/"}
    nginx = subprocess.Popen(["nginx", "-c", str(folder / "nginx.conf"), "-g", "daemon off;"])
    try:
        wait_for_port(nginx_port)
        (data.media_root / data.video_key).read_bytes()  # every variant reads a cached file
        direct = wrk(f"http://127.0.0.1:{nginx_port}/direct/{data.video_key}", script, seconds, 8)
        with serve(
            [*GUNICORN, "--bind", f"127.0.0.1:{app_port}", "lms:create_app()"], app_port, env
        ) as url:
            app = wrk(f"{url}/media/lessons/{data.range_lesson_id}", script, seconds, 8)
        with serve(
            [*GUNICORN, "--bind", f"127.0.0.1:{accel_port}", "lms:create_app()"],
            accel_port,
            accel_env,
        ):
            accel = wrk(
                f"http://127.0.0.1:{nginx_port}/media/lessons/{data.range_lesson_id}",
                script,
                seconds,
                8,
            )
            cached = wrk(
                f"http://127.0.0.1:{cached_port}/media/lessons/{data.range_lesson_id}",
                script,
                seconds,
                8,
            )
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    mib = 1 << 20
    report("range_nginx_direct", direct["bytes_per_s"] / mib, "MiB/s")
    report("range_app", app["bytes_per_s"] / mib, "MiB/s")
    report("range_app_vs_nginx", app["bytes_per_s"] / direct["bytes_per_s"], "ratio")
    # X-Accel-Redirect with the app asked on every request, then with its answer cached.
    report("range_xaccel_every_request", accel["bytes_per_s"] / mib, "MiB/s")
    report(
        "range_xaccel_every_request_vs_nginx",
        accel["bytes_per_s"] / direct["bytes_per_s"],
        "ratio",
    )
    report("range_xaccel", cached["bytes_per_s"] / mib, "MiB/s")
    report("range_xaccel_vs_nginx", cached["bytes_per_s"] / direct["bytes_per_s"], "ratio")
    for name, run in (("nginx_direct", direct), ("app", app), ("xaccel", cached),
                      ("xaccel_every_request", accel)):  # fmt: skip
        report(f"range_errors_{name}", run["errors"] + run["timeouts"], "count")


REPORT_RUNS = 5


def timed(function, runs: int = REPORT_RUNS) -> float:
    """The median wall time of ``runs`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def bench_records(url: str, tag: str) -> None:
    from lms.services import reports
    from lms.services.people import Scope

    start = time.perf_counter()
    data = records_data.build(url)
    report(f"records_load_{tag}", time.perf_counter() - start, "s")
    everyone, largest = Scope(None, everyone=True), Scope(data.largest_organization_id)
    with data.app.app_context():
        assert len(reports.monthly_hours(everyone, data.month)) == data.learners
        report(
            f"report_monthly_hours_{tag}",
            timed(lambda: reports.monthly_hours(everyone, data.month)),
            "s",
        )
        report(
            f"report_monthly_hours_one_org_{tag}",
            timed(lambda: reports.monthly_hours(largest, data.month)),
            "s",
        )
        report(
            f"report_hours_summary_{tag}",
            timed(lambda: reports.hours_summary(everyone, data.month)),
            "s",
        )
        from lms.extensions import db

        db.session.remove()
        db.engine.dispose()


def run_records(postgres: str) -> None:
    with tempfile.TemporaryDirectory(prefix="lms-bench-records-") as folder:
        bench_records(f"sqlite:///{folder}/records.sqlite3", "sqlite")
    if not setup_data.postgres_reachable(postgres):
        print(f"bench: PostgreSQL not reachable at {postgres}; SQLite only", file=sys.stderr)
        return
    url = setup_data.postgres_schema_url(postgres, f"bench_records_{secrets.token_hex(4)}")
    try:
        bench_records(url, "postgres")
    finally:
        setup_data.drop_schema(url)


SUITES = ("all", "inproc", "http", "records", "transcode", "hls", "reload", "quiz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "suite", nargs="?", choices=SUITES,
        default="all",
        help="inproc: each hot page's CPU time in one process against hello; http: progress, "
        "pages, mixed load and Range figures; records: the report figures; transcode: the "
        "ingest pipeline against the ffmpeg command line; hls: HLS segments through nginx + "
        "the app against nginx alone; quiz: quiz attempts and the item analysis; reload: plugin "
        "reloads under load; all: every one",
    )  # fmt: skip
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--learners", type=int, default=16)
    parser.add_argument("--mixed-seconds", type=int, default=60)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--rounds", type=int, default=inproc.ROUNDS)
    args = parser.parse_args()
    if args.suite in ("all", "inproc"):
        inproc.run(args.postgres, args.rounds)
    if args.suite in ("all", "records"):
        run_records(args.postgres)
    if args.suite in ("all", "transcode"):
        transcode_bench.run()
    if args.suite in ("all", "quiz"):
        quiz_bench.run(args.postgres)
    if args.suite in ("all", "reload"):
        failed = plugin_reload.run()
        if args.suite == "reload":
            return failed
    if args.suite in ("inproc", "records", "transcode", "quiz"):
        return 0
    if shutil.which("wrk") is None:
        print("bench: wrk is missing (apt-get install wrk)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="lms-bench-") as folder:
        os.chmod(folder, 0o755)  # nginx workers run as another user
        databases = {"sqlite": f"sqlite:///{folder}/bench.sqlite3"}
        if setup_data.postgres_reachable(args.postgres):
            databases["postgres"] = setup_data.postgres_schema_url(
                args.postgres, f"bench_{secrets.token_hex(4)}"
            )
        else:
            print(
                f"bench: PostgreSQL not reachable at {args.postgres}; SQLite only", file=sys.stderr
            )
        for tag, url in databases.items():
            data = setup_data.build(Path(folder) / tag, url, learners=args.learners)
            env = setup_data.app_environment(data)
            report(f"dataset_courses_{tag}", data.courses, "courses")
            report(f"dataset_lessons_{tag}", data.lessons, "lessons")
            report(f"dataset_learners_{tag}", setup_data.learner_count(data), "learners")
            try:
                if args.suite in ("all", "http"):
                    bench_progress(data, env, args.seconds, tag)
                    bench_pages(data, env, args.seconds, tag)
                    bench_mixed(data, env, args.mixed_seconds, tag)
                    if tag == "sqlite":
                        bench_startup(env)
                        bench_range(data, env, args.seconds)
                if args.suite in ("all", "hls"):
                    hls.bench_hls(data, env, args.seconds, tag)
            finally:
                setup_data.drop(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
