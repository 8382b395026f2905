"""Video files: checking and probing with PyAV, storing under generated names.

Facts about a file (duration, size, codecs) always come from the file itself. Trainers bring
MP4, MOV, M4V, WebM, MKV and AVI files; the ingest pipeline (:mod:`lms.services.ingest`)
turns each into web versions that play everywhere. Demo videos are made by
:mod:`lms.services.demo_media`.
"""

from __future__ import annotations

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
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.extensions import db
from lms.models import MediaAsset
from lms.services.errors import Invalid

if TYPE_CHECKING:
    from _typeshed import SupportsRead

# Accepted file names, the MIME type of the original, and the container family FFmpeg must
# find inside (checked by content: first the magic bytes, then PyAV).
VIDEO_EXTENSIONS = {
    ".mp4": ("video/mp4", "mov"),
    ".m4v": ("video/x-m4v", "mov"),
    ".mov": ("video/quicktime", "mov"),
    ".webm": ("video/webm", "matroska"),
    ".mkv": ("video/x-matroska", "matroska"),
    ".avi": ("video/x-msvideo", "avi"),
}
FAMILY_OF_FORMAT = {
    "mov": "mov",
    "mp4": "mov",
    "matroska": "matroska",
    "webm": "matroska",
    "avi": "avi",
}
MIME_BY_FAMILY = {"mov": "video/mp4", "matroska": "video/webm", "avi": "video/x-msvideo"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# The top-level boxes a QuickTime/MP4 file may start with.
MOV_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
CHUNK = 1 << 20


class MediaError(Invalid):
    """The file is not a playable video we accept."""


@dataclass(frozen=True)
class Probe:
    container: str  # the family: "mov", "matroska" or "avi"
    mime_type: str
    duration_seconds: float
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None


def probe(path: Path) -> Probe:
    """Open ``path`` with FFmpeg (PyAV) and read what it really is.

    The file must hold a video stream whose first frame decodes; raises :class:`MediaError`
    (with a message for the trainer) otherwise.
    """
    import av  # FFmpeg's bindings (23 MiB), loaded on first use, not by every web worker

    try:
        with av.open(str(path)) as container:
            names = container.format.name.split(",")
            family = next((FAMILY_OF_FORMAT[n] for n in names if n in FAMILY_OF_FORMAT), None)
            if family is None:
                raise MediaError(_l("This kind of file is not a video we accept."))
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if video is None:
                raise MediaError(_l("The file has no video in it."))
            duration = (container.duration or 0) / av.time_base
            if not duration and video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            codec, width, height = (
                video.codec_context.name,
                video.codec_context.width,
                video.codec_context.height,
            )
            try:
                next(container.decode(video=0))
            except (av.error.FFmpegError, StopIteration) as exc:
                raise MediaError(_l("The video in this file cannot be decoded.")) from exc
    except av.error.FFmpegError as exc:
        raise MediaError(_l("The file is not a readable video.")) from exc
    if not math.isfinite(duration) or duration <= 0:
        raise MediaError(_l("The video has no duration."))
    return Probe(
        container=family,
        mime_type=MIME_BY_FAMILY[family],
        duration_seconds=round(float(duration), 3),
        width=width or None,
        height=height or None,
        video_codec=codec,
        audio_codec=audio.codec_context.name if audio is not None else None,
    )


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def storage_path(asset: MediaAsset) -> Path:
    return media_root() / asset.storage_key[:2] / asset.storage_key


def sniff_video(head: bytes, extension: str) -> str:
    """The MIME type if the first bytes match the extension's container, else raise."""
    if extension not in VIDEO_EXTENSIONS:
        raise MediaError(_l("Only MP4, MOV, M4V, WebM, MKV and AVI videos are accepted."))
    mime_type, family = VIDEO_EXTENSIONS[extension]
    matches = {
        "mov": len(head) >= 12 and head[4:8] in MOV_FIRST_BOXES,
        "matroska": head.startswith(EBML_MAGIC),
        "avi": head[:4] == b"RIFF" and head[8:12] == b"AVI ",
    }[family]
    if not matches:
        raise MediaError(_l("The file's content is not a video of the type its name says."))
    return mime_type


def store_stream(
    stream: SupportsRead[bytes], filename: str, uploaded_by: int | None = None
) -> tuple[MediaAsset, bool]:
    """Stream a video to the media store under a generated name. Commits.

    The first bytes must match the extension; the file goes to a temporary file beside
    the store (never whole in memory) and is hashed on the way: the same content is stored
    once. Before anything is kept, PyAV must find a decodable video stream in the container
    the name says (:class:`MediaError` otherwise). Returns the asset (``processing`` when new,
    for the ingest pipeline) and whether it is new.
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
        if probe(Path(temporary)).container != VIDEO_EXTENSIONS[extension][1]:
            raise MediaError(_l("The file's content is not a video of the type its name says."))
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
    """Register an existing video file and process it now (courseware import, the demo).

    Commits. Raises :class:`MediaError` when the file is not a video we accept or its web
    versions cannot be made.
    """
    from lms.services import ingest

    with path.open("rb") as handle:
        asset, created = store_stream(handle, original_name or path.name)
    if asset.status == "processing":
        ingest.process(asset.id)
        db.session.refresh(asset)
    if asset.status == "failed":
        raise MediaError(asset.error or "the video could not be processed")
    return asset, created


def make_poster(video: Path, duration: float) -> str | None:
    """A JPEG of the frame at 10% of the video, encoded with FFmpeg's MJPEG encoder."""
    import av  # FFmpeg's bindings (23 MiB), loaded on first use, not by every web worker

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
            encoder.time_base = stream.time_base or Fraction(1)
            packets = encoder.encode(frame.reformat(format="yuvj420p")) + encoder.encode(None)
            target.write_bytes(b"".join(bytes(p) for p in packets))
    except (av.error.FFmpegError, StopIteration, IndexError):
        return None
    return key
