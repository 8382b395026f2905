"""gunicorn settings for Camp LMS in production: ``gunicorn -c deploy/gunicorn.conf.py``.

Every value can be changed from the environment (names below) or on the command line
(``--workers 3``), which wins. The app is ``lms.wsgi:app``: it reads its own settings from
``LMS_*`` variables and the instance folder (docs/deploy.md lists them).
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (cgroups, taskset)
    except AttributeError:
        return os.cpu_count() or 1


wsgi_app = "lms.wsgi:app"

# Where to listen. Behind nginx on the same machine: the loopback (or a unix socket,
# LMS_BIND=unix:/run/lms/gunicorn.sock). PORT alone gives 127.0.0.1:PORT.
bind = [os.environ.get("LMS_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]

# Processes × threads. gthread: each worker process runs `threads` requests at once, so a
# request waiting on the database or on a client (a video upload nginx streams to us) does
# not hold a whole process. Two threads, not more: the pages are mostly Python, and threads
# of one process take turns on its interpreter lock, so more of them only add switching
# (bench http on 2 cores, 32 connections, SQLite: 4 threads 331-586 pages/s with p99 165 ms,
# 2 threads 601/s with p99 104 ms, 1 thread 950/s with p99 101 ms; docs/benchmarks.md).
# One worker per core (at least two, so one restarting never leaves nobody serving); raise
# LMS_WORKERS when the database is on another machine and requests wait more than they
# compute. Memory: one worker with the four camps loaded stays under 150 MB (120 MiB).
# The worker class is gthread's, except that a worker whose threads are all busy leaves a new
# connection to one with a free thread (lms/gunicorn_worker.py: kept-alive connections stay
# with the worker that took them, and gthread often gave one worker most of them).
worker_class = "lms.gunicorn_worker.BalancedThreadWorker"
workers = _int("LMS_WORKERS", max(2, _cores()))
threads = _int("LMS_THREADS", 2)

# A worker that stops answering gunicorn's heartbeat for `timeout` seconds is killed and
# replaced. With gthread the heartbeat comes from the worker's main loop, so one long request
# (a video upload streamed by nginx) does not trip it; nginx's proxy timeouts bound requests.
timeout = _int("LMS_TIMEOUT", 60)
# SIGTERM (systemctl stop/restart, a new deploy): stop accepting, let requests in flight
# finish for up to graceful_timeout seconds, then kill what is left. Keep it below systemd's
# TimeoutStopSec (deploy/lms.service).
graceful_timeout = _int("LMS_GRACEFUL_TIMEOUT", 30)
# nginx keeps connections to us open (upstream keepalive): a little longer than its idle time.
keepalive = _int("LMS_KEEPALIVE", 5)

# Replace each worker after about this many requests (jitter: not all at once), so a slow
# leak in a plugin cannot grow without bound. 0 turns it off.
max_requests = _int("LMS_MAX_REQUESTS", 2000)
max_requests_jitter = _int("LMS_MAX_REQUESTS_JITTER", 200)

# Logs to stdout/stderr: systemd's journal (or docker) keeps them. The access log shows the
# client's address from X-Forwarded-For as nginx set it.
accesslog = os.environ.get("LMS_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("LMS_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# gunicorn itself trusts X-Forwarded-Proto only from these addresses (nginx on this machine);
# the app's own ProxyFix is turned on with LMS_PROXY_FIX=1.
forwarded_allow_ips = os.environ.get("LMS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The heartbeat files on a RAM disk, so a slow or full disk cannot make workers look dead.
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn's own advice
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# The master's pid, for `lms plugins reload` (SIGHUP: new workers load the plugins installed
# now, the old ones finish their requests). In the instance folder, writable under systemd.
pidfile = os.environ.get("LMS_PIDFILE") or os.path.join(
    os.environ.get("LMS_INSTANCE_PATH")
    or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance"),
    "gunicorn.pid",
)
try:  # the instance folder may not exist yet (lms init makes it; the app would too)
    os.makedirs(os.path.dirname(pidfile), exist_ok=True)
except OSError:
    pidfile = None  # no pidfile: `lms plugins reload` then says to restart by hand

# gunicorn 27's control socket (gunicornc) would live in the user's home, which the systemd
# unit makes read-only; signals (HUP, TERM, TTIN/TTOU) do all we need.
control_socket_disable = True

# preload_app (LMS_PRELOAD=1) builds the app once in the master before forking:
# + workers share the loaded code and plugins' memory (copy-on-write), start faster, and a
#   configuration error is reported once by the master instead of by every worker;
# - a code change then needs a full restart (systemctl restart; `kill -HUP` reloads only
#   workers, which would keep the old code), and anything the app opened before the fork
#   would be shared by all workers: post_fork below drops the database pool for that reason
#   (create_app opens no connection itself; Redis clients connect lazily, per worker).
# Off by default: upgrades by HUP are simpler, and four camps fit in memory either way.
preload_app = os.environ.get("LMS_PRELOAD", "") not in ("", "0")


def on_starting(server):
    """Refuse an unsafe production configuration once, in the master, before any fork: a
    missing or sample secret key, debug on, no LMS_BASE_URL or LMS_TRUSTED_HOSTS, or a Redis
    that the configuration names and that does not answer.

    Without this every worker would fail on its own and gunicorn, reaping several failed
    workers at once, may print its own traceback and exit 1 instead of 4. (Redis is checked
    here only: a worker restarted during a short Redis outage must not stop the server.)
    """
    import sys

    from lms.config import ConfigurationError, check

    try:
        check()
    except ConfigurationError as exc:
        print(f"Error: {exc}\nApp failed to load.", file=sys.stderr, flush=True)
        raise SystemExit(4) from None  # gunicorn's APP_LOAD_ERROR
    # Workers inherit it: the Reload button of /admin/camps signals this master.
    os.environ["LMS_SERVER_PID"] = str(os.getpid())


def post_worker_init(worker):
    """Move everything loading the app made (the app, its plugins, templates, the modules:
    about 200,000 objects) out of the garbage collector's sight, into its permanent
    generation (gc.freeze).

    These objects live as long as the worker, yet every full collection walked them all: a
    pause of 110-150 ms, during which the worker answered nothing. Under bench http that was
    about one pause per worker per 10 seconds, and it set the pages' 99th percentile. Frozen,
    a full collection takes 1-19 ms. Garbage left by the start-up is collected first, so
    none of it is kept for good.
    """
    import gc

    gc.collect()
    gc.freeze()


def post_fork(server, worker):
    """With preload_app, give each worker its own database connections."""
    if not preload_app:
        return
    from lms.extensions import db
    from lms.wsgi import app

    with app.app_context():
        db.engine.dispose(close=False)
