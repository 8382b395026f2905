"""Video files: probing with PyAV, storing under generated names, and demo videos.

Facts about a file (duration, size, codecs) always come from the file itself.
"""

from __future__ import annotations

import array
import hashlib
import math
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import av
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.extensions import db
from lms.models import Lesson, MediaAsset

MIME_BY_CONTAINER = {"webm": "video/webm", "mp4": "video/mp4"}
VIDEO_EXTENSIONS = {".mp4": "video/mp4", ".webm": "video/webm"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
CHUNK = 1 << 20


class MediaError(ValueError):
    """The file is not a playable video we accept."""


@dataclass(frozen=True)
class Probe:
    container: str
    mime_type: str
    duration_seconds: float
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None


def probe(path: Path) -> Probe:
    """Open ``path`` with FFmpeg (PyAV) and read what it really is."""
    try:
        with av.open(str(path)) as container:
            names = set(container.format.name.split(","))
            kind = next((k for k in ("webm", "mp4") if k in names), None)
            if kind is None:
                raise MediaError(f"unsupported container {container.format.name}")
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if video is None:
                raise MediaError("the file has no video stream")
            duration = (container.duration or 0) / av.time_base
            if not duration and video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
    except av.error.FFmpegError as exc:
        raise MediaError(f"not a readable video: {exc}") from exc
    if not math.isfinite(duration) or duration <= 0:
        raise MediaError("the video has no duration")
    return Probe(
        container=kind,
        mime_type=MIME_BY_CONTAINER[kind],
        duration_seconds=round(float(duration), 3),
        width=video.codec_context.width or None,
        height=video.codec_context.height or None,
        video_codec=video.codec_context.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
    )


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def storage_path(asset: MediaAsset) -> Path:
    return media_root() / asset.storage_key[:2] / asset.storage_key


def sniff_video(head: bytes, extension: str) -> str:
    """The MIME type if the first bytes match the extension's container, else raise."""
    if extension not in VIDEO_EXTENSIONS:
        raise MediaError(_l("only .mp4 and .webm videos are accepted"))
    if extension == ".webm" and head.startswith(EBML_MAGIC):
        return "video/webm"
    if extension == ".mp4" and len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    raise MediaError(_l("the file's content is not a video of the type its name says"))


def store_stream(
    stream: BinaryIO, filename: str, uploaded_by: int | None = None
) -> tuple[MediaAsset, bool]:
    """Stream a video to the media store under a generated name. Commits.

    The first bytes must match the extension; the file goes to a temporary file beside
    the store (never whole in memory) and is hashed on the way: the same content is stored
    once. Returns the asset (``processing`` when new) and whether it is new.
    """
    extension = Path(filename or "").suffix.lower()
    root = media_root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, temporary = tempfile.mkstemp(dir=root, suffix=".upload")
    try:
        with os.fdopen(fd, "wb") as out:
            head = stream.read(64)
            mime_type = sniff_video(head, extension)
            for chunk in chain((head,), iter(lambda: stream.read(CHUNK), b"")):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        existing = db.session.scalar(db.select(MediaAsset).filter_by(sha256=digest.hexdigest()))
        if existing is not None:
            return existing, False
        asset = MediaAsset(
            storage_key=f"{secrets.token_hex(16)}{extension}",
            sha256=digest.hexdigest(),
            original_name=re.split(r"[\\/]", filename)[-1][:255] or f"upload{extension}",
            mime_type=mime_type,
            size_bytes=size,
            status="processing",
            uploaded_by_id=uploaded_by,
        )
        target = storage_path(asset)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temporary, 0o644)  # nginx serves media (X-Accel-Redirect) as another user
        os.replace(temporary, target)
        try:
            db.session.add(asset)
            db.session.commit()
        except BaseException:
            target.unlink(missing_ok=True)  # no row (a full database…), so no file either
            raise
        return asset, True
    finally:
        Path(temporary).unlink(missing_ok=True)


def import_file(path: Path, original_name: str | None = None) -> tuple[MediaAsset, bool]:
    """Register an existing video file now (courseware import, demo videos). Commits.

    Raises :class:`MediaError` when the file is not a video we accept.
    """
    with path.open("rb") as handle:
        asset, created = store_stream(handle, original_name or path.name)
    if asset.status != "ready":
        process_asset(asset.id)
    if asset.status == "failed":
        raise MediaError(asset.error or "the video could not be processed")
    return asset, created


def process_asset(asset_id: int) -> None:
    """Probe a stored video and make its poster; marks it ready or failed (a job)."""
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or asset.status == "ready":
        return
    path = storage_path(asset)
    try:
        facts = probe(path)
        if facts.mime_type != asset.mime_type:
            raise MediaError(f"the file is {facts.mime_type}, not {asset.mime_type}")
    except MediaError as exc:
        asset.status, asset.error = "failed", str(exc)[:500]
        db.session.commit()
        return
    asset.duration_seconds = facts.duration_seconds
    asset.width, asset.height = facts.width, facts.height
    asset.video_codec, asset.audio_codec = facts.video_codec, facts.audio_codec
    asset.poster_key = make_poster(path, facts.duration_seconds)
    if asset.poster_key is None:
        asset.status, asset.error = "failed", "no frame of the video could be decoded"
        db.session.commit()
        return
    asset.status, asset.error = "ready", None
    db.session.execute(
        db.update(Lesson)
        .where(Lesson.media_id == asset.id, Lesson.minutes == 0)
        .values(minutes=max(1, round(facts.duration_seconds / 60)))
    )
    db.session.commit()


def make_poster(video: Path, duration: float) -> str | None:
    """A JPEG of the frame at 10% of the video, encoded with FFmpeg's MJPEG encoder."""
    key = f"{secrets.token_hex(16)}.jpg"
    target = media_root() / "posters" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            if duration > 1 and stream.time_base:
                container.seek(int(duration * 0.1 / stream.time_base), stream=stream)
            frame = next(container.decode(stream))
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height = frame.width, frame.height
            encoder.pix_fmt = "yuvj420p"
            encoder.time_base = stream.time_base or 1
            packets = encoder.encode(frame.reformat(format="yuvj420p")) + encoder.encode(None)
            target.write_bytes(b"".join(bytes(p) for p in packets))
    except (av.error.FFmpegError, StopIteration, IndexError):
        return None
    return key


def generate_demo_video(
    path: Path, *, seconds: int, color: str, fps: int = 10, size: tuple[int, int] = (320, 180)
) -> Path:
    """Encode a small WebM (VP8 + Opus): a camp-coloured card, a moving progress bar, a tone."""
    width, height = size
    background = bytes.fromhex(color.lstrip("#"))
    white = b"\xff\xff\xff"
    with av.open(str(path), "w", format="webm") as output:
        video = output.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = 120_000
        audio = output.add_stream("libopus", rate=48_000)
        audio.layout = "mono"
        frames = seconds * fps
        for index in range(frames):
            image = bytearray(background * (width * height))
            filled = width * (index + 1) // frames
            for row in range(height - 24, height - 12):
                start = row * width * 3
                image[start : start + filled * 3] = white * filled
            pulse = (index // fps) % 2
            for row in range(20, 60):
                start = (row * width + 20 + pulse * 40) * 3
                image[start : start + 40 * 3] = white * 40
            frame = av.VideoFrame(width, height, "rgb24")
            frame.planes[0].update(bytes(image))
            frame.pts = index
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        _encode_tone(output, audio, seconds)
    return path


def _encode_tone(
    output: av.container.OutputContainer, stream: av.AudioStream, seconds: int
) -> None:
    """A quiet 300 Hz tone: one 20 ms chunk holds exactly six periods, so it repeats cleanly."""
    rate, chunk = 48_000, 960
    samples = array.array(
        "f", (0.1 * math.sin(2 * math.pi * 300 * k / rate) for k in range(chunk))
    ).tobytes()
    for start in range(0, seconds * rate, chunk):
        frame = av.AudioFrame(format="flt", layout="mono", samples=chunk)
        frame.planes[0].update(samples)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))
