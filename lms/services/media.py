"""Video files: probing with PyAV, storing under generated names, and demo videos.

Facts about a file (duration, size, codecs) always come from the file itself.
"""

from __future__ import annotations

import array
import hashlib
import math
import secrets
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from flask import current_app

from lms.extensions import db
from lms.models import MediaAsset

MIME_BY_CONTAINER = {"webm": "video/webm", "mp4": "video/mp4"}


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(path: Path, original_name: str | None = None) -> tuple[MediaAsset, bool]:
    """Register a video file (copied under a generated name); the same content is reused.

    Returns the asset and whether it is new. Does not commit.
    """
    sha = file_sha256(path)
    existing = db.session.scalar(db.select(MediaAsset).filter_by(sha256=sha))
    if existing is not None:
        return existing, False
    facts = probe(path)
    key = f"{secrets.token_hex(16)}.{facts.container}"
    asset = MediaAsset(
        storage_key=key,
        sha256=sha,
        original_name=(original_name or path.name)[:255],
        mime_type=facts.mime_type,
        size_bytes=path.stat().st_size,
        duration_seconds=facts.duration_seconds,
        width=facts.width,
        height=facts.height,
        video_codec=facts.video_codec,
        audio_codec=facts.audio_codec,
    )
    target = storage_path(asset)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    db.session.add(asset)
    return asset, True


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
