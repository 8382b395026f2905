"""The ingest pipeline's bookkeeping: claim an asset, run the FFmpeg work, record the result.

Every video (a trainer's upload, ``lms media import``, the demo) ends here as a job. A job
first *claims* its asset with one conditional UPDATE (a lease kept alive by a heartbeat), so
two workers never process the same file and a worker killed mid-job leaves a claim that
expires: :func:`resume_interrupted` takes such assets up again when a process starts (and
from ``lms cron``), and ``lms check`` reports any that stay stuck. A video that fails three
times is marked failed with the reason; trainers can retry it.

The web versions are built in a fresh folder and only then recorded, so a reprocessed asset
keeps playing its old versions until the new ones are complete.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, or_, select, update

from lms.database import rowcount
from lms.extensions import db
from lms.models import Lesson, MediaAsset
from lms.models._base import utcnow
from lms.services import authoring, jobs, media, notifications, schedule, transcode
from lms.services.integrity import CheckResult

log = logging.getLogger(__name__)

# A claim whose heartbeat is older than the lease (MEDIA_PROCESSING_LEASE, seconds) is taken
# to be dead: its worker was killed.
DEFAULT_LEASE_SECONDS = 90
HEARTBEAT_EVERY = 5.0  # seconds between progress writes (well inside the lease)
MAX_ATTEMPTS = 3
# A video queued this long ago and never started counts as stuck (no worker is running).
QUEUE_PATIENCE = timedelta(minutes=10)
JOB = "lms.services.ingest.process"

# At most one transcode per core in this process, whatever the job pool's size.
_slots = threading.BoundedSemaphore(max(1, len(os.sched_getaffinity(0))))


def streams_root() -> Path:
    return media.media_root() / "streams"


def stream_path(asset: MediaAsset, *parts: str) -> Path:
    """A file of the asset's web versions (``streams/<dir>/…``)."""
    if not asset.stream_dir:
        raise FileNotFoundError("the asset has no web versions")
    return streams_root().joinpath(asset.stream_dir, *parts)


def lease() -> timedelta:
    return timedelta(
        seconds=current_app.config.get("MEDIA_PROCESSING_LEASE", DEFAULT_LEASE_SECONDS)
    )


def enqueue(asset: MediaAsset) -> None:
    """Queue the processing of ``asset`` (inline in tests, a thread, or RQ)."""
    jobs.enqueue(JOB, asset.id)


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """Waiting for a worker: ``processing`` and never claimed, or the claim's lease ran out."""
    return (MediaAsset.status == "processing") & or_(
        MediaAsset.heartbeat_at.is_(None), MediaAsset.heartbeat_at < now - lease()
    )


def claim(asset_id: int, now: datetime | None = None) -> bool:
    """Take the asset for processing unless a live worker has it. Commits."""
    now = now or utcnow()
    taken = rowcount(
        db.session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == asset_id, _unclaimed(now))
            .values(heartbeat_at=now, attempts=MediaAsset.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    return taken == 1


def process(asset_id: int) -> None:
    """The job: probe, transcode, package and record one asset (``processing`` → ready/failed)."""
    if not claim(asset_id):
        return
    asset = db.session.get_one(MediaAsset, asset_id)  # just claimed: it exists
    db.session.refresh(asset)
    if asset.attempts > MAX_ATTEMPTS:
        _fail(asset, f"processing was interrupted {MAX_ATTEMPTS} times")
        return
    with _slots:
        _process_claimed(asset)


def _process_claimed(asset: MediaAsset) -> None:
    try:
        facts = media.probe(media.storage_path(asset))
    except media.MediaError as exc:
        _fail(asset, str(exc))
        return
    asset.duration_seconds = facts.duration_seconds
    asset.width, asset.height = facts.width, facts.height
    asset.video_codec, asset.audio_codec = facts.video_codec, facts.audio_codec
    db.session.commit()
    try:
        folder, outputs = build_web_versions(asset)
    except (transcode.TranscodeError, OSError) as exc:
        _fail(asset, str(exc))
        return
    poster_key = media.make_poster(folder / outputs.renditions[-1]["file"], facts.duration_seconds)
    if poster_key is None:
        transcode.remove_tree(folder)
        _fail(asset, "no frame of the video could be decoded")
        return
    _record(asset, folder.name, outputs, poster_key)


def build_web_versions(asset: MediaAsset) -> tuple[Path, transcode.Outputs]:
    """Run the FFmpeg work into a new folder, keeping the heartbeat and progress current."""
    folder = streams_root() / secrets.token_hex(16)
    started = time.monotonic()
    last_write = 0.0
    asset_id = asset.id

    def on_progress(fraction: float) -> None:
        nonlocal last_write
        moment = time.monotonic()
        if moment - last_write < HEARTBEAT_EVERY and fraction < 1:
            return
        last_write = moment
        elapsed = moment - started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.01 else None
        db.session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == asset_id)
            .values(progress=round(fraction, 4), eta_seconds=eta, heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    try:
        outputs = transcode.build(media.storage_path(asset), folder, on_progress)
    except BaseException:
        transcode.remove_tree(folder)
        raise
    _make_readable(folder)
    return folder, outputs


def _make_readable(folder: Path) -> None:
    """nginx sends the files (X-Accel-Redirect) as another user."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _record(
    asset: MediaAsset, folder: str, outputs: transcode.Outputs, poster_key: str | None
) -> None:
    """Point the asset at its new web versions, then remove the old ones. Commits."""
    old_folder, old_poster = asset.stream_dir, asset.poster_key
    asset.stream_dir = folder
    asset.renditions = outputs.renditions
    asset.has_thumbnails = outputs.thumbnails
    asset.pipeline_version = transcode.PIPELINE_VERSION
    asset.poster_key = poster_key
    asset.status, asset.error = "ready", None
    asset.progress, asset.eta_seconds, asset.heartbeat_at = 1.0, None, None
    set_lesson_minutes(asset)
    notifications.on_video_processed(asset)
    db.session.commit()
    if old_folder and old_folder != folder:
        transcode.remove_tree(streams_root() / old_folder)
    if old_poster and old_poster != poster_key:
        (media.media_root() / "posters" / old_poster).unlink(missing_ok=True)


def set_lesson_minutes(asset: MediaAsset) -> None:
    """Lessons playing ``asset`` list its probed duration in whole minutes (as attaching does)."""
    if asset.duration_seconds:
        db.session.execute(
            update(Lesson)
            .where(Lesson.media_id == asset.id)
            .values(minutes=authoring.listed_minutes(asset.duration_seconds))
        )


def _fail(asset: MediaAsset, reason: str) -> None:
    asset.status, asset.error = "failed", reason[:500]
    asset.eta_seconds, asset.heartbeat_at = None, None
    notifications.on_video_processed(asset)
    db.session.commit()
    log.warning("video %s failed: %s", asset.id, reason)


def retry(asset: MediaAsset) -> bool:
    """Queue a failed asset again (a trainer's retry); False when it is not failed. Commits."""
    if asset.status != "failed":
        return False
    _start_over(asset)
    enqueue(asset)
    return True


def _start_over(asset: MediaAsset) -> None:
    """Back to ``processing``, unclaimed, with no tries counted yet. Commits."""
    asset.status, asset.error = "processing", None
    asset.progress, asset.eta_seconds, asset.heartbeat_at, asset.attempts = 0.0, None, None, 0
    db.session.commit()


def reprocess(asset: MediaAsset) -> None:
    """Build the asset's web versions again from its original (a newer pipeline). Commits.

    A ready asset keeps serving its current versions until the new ones are recorded; a
    failed or stuck one is processed as if it had just been uploaded.
    """
    if asset.status != "ready":
        _start_over(asset)
        process(asset.id)
        return
    try:
        folder, outputs = build_web_versions(asset)
    except (transcode.TranscodeError, OSError) as exc:
        asset.error = f"reprocessing failed: {exc}"[:500]
        db.session.commit()
        raise
    # A ready asset was probed, so it has its duration.
    duration = asset.duration_seconds or 0.0
    poster_key = media.make_poster(folder / outputs.renditions[-1]["file"], duration)
    _record(asset, folder.name, outputs, poster_key or asset.poster_key)


def stuck(now: datetime | None = None) -> list[MediaAsset]:
    """Assets ``processing`` with no live worker: the claim expired, or the job never started."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(MediaAsset)
            .where(
                MediaAsset.status == "processing",
                or_(
                    MediaAsset.heartbeat_at < now - lease(),
                    MediaAsset.heartbeat_at.is_(None)
                    & (MediaAsset.created_at < now - QUEUE_PATIENCE),
                ),
            )
            .order_by(MediaAsset.id)
        )
    )


def resume_interrupted() -> list[int]:
    """Queue every asset whose processing no live worker holds; returns their ids.

    Safe to run in every process and as often as wanted: a job that finds its asset claimed
    by a live worker (or finished) does nothing.
    """
    waiting = db.session.scalars(select(MediaAsset.id).where(_unclaimed(utcnow()))).all()
    remove_orphans()
    for asset_id in waiting:
        jobs.enqueue(JOB, asset_id)
    return list(waiting)


def remove_orphans() -> list[str]:
    """Delete the half-made folders of killed jobs: no asset names them, and nothing in them
    changed for a lease (a live FFmpeg keeps writing to its files). Returns their names."""
    root = streams_root()
    if not root.is_dir():
        return []
    named = set(
        db.session.scalars(select(MediaAsset.stream_dir).where(MediaAsset.stream_dir.is_not(None)))
    )
    horizon = time.time() - lease().total_seconds()
    removed = []
    for folder in root.iterdir():
        if folder.name in named or not folder.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in [folder, *folder.rglob("*")]), default=0.0)
        if newest < horizon:
            transcode.remove_tree(folder)
            removed.append(folder.name)
    if removed:
        log.info("removed folders of interrupted video processing: %s", removed)
    return removed


@schedule.register("resume video processing", every=timedelta(minutes=5))
def _resume_from_cron(now: datetime) -> None:
    """``lms cron``: queue again what a dead worker left (a no-op when nothing is stuck)."""
    resume_interrupted()


def resume_on_start(app: Flask, delay: float = 2.0) -> None:
    """After a server process starts, take up the work an earlier process left unfinished."""

    def run() -> None:
        with app.app_context():
            try:
                resumed = resume_interrupted()
            except Exception:  # a database not yet migrated, say
                log.warning("could not look for interrupted video processing", exc_info=True)
                return
            finally:
                db.session.remove()
            if resumed:
                log.info("resumed processing of videos %s", resumed)

    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()


def status_of(asset: MediaAsset) -> dict[str, Any]:
    """What the trainer's progress bar shows."""
    return {
        "id": asset.id,
        "status": asset.status,
        "progress": round(asset.progress or 0.0, 4),
        "percent": round(100 * (asset.progress or 0.0)),
        "eta_seconds": round(asset.eta_seconds) if asset.eta_seconds is not None else None,
        "error": asset.error,
    }


def check_stuck() -> CheckResult:
    """For ``lms check``: videos left ``processing`` with no live worker."""
    assets = stuck()
    if not assets:
        return CheckResult("video processing", True)
    named = "; ".join(
        f"video {asset.id} {asset.original_name!r} (try {asset.attempts})" for asset in assets[:5]
    )
    return CheckResult(
        "video processing",
        False,
        f"{len(assets)} stuck in processing: {named} — start a server or `lms worker`, "
        "or run `lms media reprocess ID`",
    )
