"""The ingest pipeline's FFmpeg work: web renditions, an HLS package and seek previews.

One FFmpeg run decodes the source once and writes, for every rendition, an MP4 that plays
everywhere (H.264 High, yuv420p, AAC-LC, ``faststart``, audio and video interleaved), plus
the thumbnail sprites. A rendition whose video already fits (H.264 yuv420p, no rotation, the
right size) is copied, not re-encoded; so is AAC-LC audio. Each MP4 is then cut, without
re-encoding, into fMP4 (CMAF) HLS segments of about :data:`SEGMENT_SECONDS`, and a master
playlist lists the variants. FFmpeg is the binary ``imageio-ffmpeg`` ships: nothing to
install by hand.

Everything here works on files; :mod:`lms.services.media` decides when it runs and records
the result.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import av

# Bumped when the outputs change; `lms media reprocess` brings older assets up to date.
PIPELINE_VERSION = 1
TARGET_HEIGHTS = (360, 720)
SEGMENT_SECONDS = 4
# A copied stream's keyframes cut the HLS segments: farther apart than this, it is encoded.
MAX_KEYFRAME_GAP = 6.0
MAX_FPS = 30
# Video bit rates (bits/s) by rendition height: a cap for the CRF encode (VBV), and what the
# playlists announce before the real figures are measured.
MAX_BITRATE = {240: 400_000, 360: 900_000, 480: 1_400_000, 720: 2_800_000}
AUDIO_BITRATE = 128_000
THUMB_WIDTH = 160
THUMBS_WORK = "_thumbs"  # the single thumbnails, before they are tiled
THUMB_COLUMNS = 10
THUMBS_PER_SPRITE = THUMB_COLUMNS * THUMB_COLUMNS
MAX_THUMBS = 200
FFMPEG_TIMEOUT_FACTOR = 20  # give up after 20 × the video's duration (plus a minute)
STDERR_TAIL = 2000

ProgressCallback = Callable[[float], None]


class TranscodeError(RuntimeError):
    """FFmpeg could not make the web versions; the message says why."""


@dataclass(frozen=True)
class Source:
    """What the pipeline needs to know of a source file, read with PyAV."""

    width: int  # as displayed, rotation applied
    height: int
    rotation: int
    duration: float
    video_codec: str
    pix_fmt: str | None
    fps: float
    variable_frame_rate: bool
    audio_codec: str | None
    audio_profile: str | None
    audio_channels: int
    keyframe_gap: float  # the longest stretch between two keyframes, in seconds

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def portrait(self) -> bool:
        return self.height > self.width


@dataclass(frozen=True)
class Rendition:
    """One web version: its size, and whether its video can be copied from the source."""

    height: int  # the short side ("360p" for a portrait video is 360 wide)
    frame_width: int
    frame_height: int
    copy_video: bool

    @property
    def name(self) -> str:
        return f"{self.height}p"

    @property
    def file(self) -> str:
        return f"{self.name}.mp4"


def ffmpeg_exe() -> str:
    """The FFmpeg binary bundled by imageio-ffmpeg (``LMS_FFMPEG`` overrides it)."""
    configured = os.environ.get("LMS_FFMPEG")
    if configured:
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def inspect(path: Path) -> Source:
    """Read the facts the plan depends on. Raises :class:`TranscodeError`."""
    import av  # FFmpeg's bindings (23 MiB), loaded on first use, not by every web worker

    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            audio = next(iter(container.streams.audio), None)
            context = video.codec_context
            rotation = _first_frame_rotation(container)
            width, height = context.width or 0, context.height or 0
            if rotation % 180:
                width, height = height, width
            duration = (container.duration or 0) / av.time_base
            if not duration and video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            average = video.average_rate or video.guessed_rate or Fraction(25)
            keyframe_gap, variable = _timing(container, video, duration)
            return Source(
                width=width,
                height=height,
                rotation=rotation,
                duration=float(duration),
                video_codec=context.name,
                pix_fmt=context.format.name if context.format else None,
                fps=float(average),
                variable_frame_rate=variable,
                audio_codec=audio.codec_context.name if audio is not None else None,
                audio_profile=audio.codec_context.profile if audio is not None else None,
                audio_channels=audio.codec_context.channels if audio is not None else 0,
                keyframe_gap=keyframe_gap,
            )
    except (av.error.FFmpegError, IndexError, StopIteration) as exc:
        raise TranscodeError(f"not a readable video: {exc}") from exc


def _first_frame_rotation(container: av.container.InputContainer) -> int:
    """Degrees the picture is turned for display (a phone's display matrix), 0/90/180/270.

    Decoding the first frame also proves the stream is decodable at all.
    """
    frame = next(container.decode(video=0))
    return round(getattr(frame, "rotation", 0) or 0) % 360


def _timing(
    container: av.container.InputContainer, video: av.video.stream.VideoStream, duration: float
) -> tuple[float, bool]:
    """From the packets (no decoding): the longest time between keyframes (and to the end),
    and whether frames last unequal times (a variable frame rate, as phones record)."""
    container.seek(0)
    keyframes, stamps = [], []
    for packet in container.demux(video):
        if packet.pts is None:
            continue
        moment = float(packet.pts * packet.time_base)
        stamps.append(moment)
        if packet.is_keyframe:
            keyframes.append(moment)
    points = [*sorted(keyframes), duration] if keyframes else [0.0, duration]
    gap = max(later - earlier for earlier, later in itertools.pairwise(points))
    steps = [later - earlier for earlier, later in itertools.pairwise(sorted(stamps))]
    variable = bool(steps) and max(steps) - min(steps) > 0.1 * max(min(steps), 1e-3)
    return gap, variable


def plan(source: Source) -> list[Rendition]:
    """The renditions of ``source``: 360p and 720p, never above the source's own size."""
    heights = sorted({min(target, _even(source.short_side)) for target in TARGET_HEIGHTS})
    renditions = []
    for height in heights:
        long_side = max(
            2, 2 * round(height * max(source.width, source.height) / source.short_side / 2)
        )
        frame = (height, long_side) if source.portrait else (long_side, height)
        fits = (
            source.video_codec == "h264"
            and source.pix_fmt in ("yuv420p", "yuvj420p")
            and source.rotation == 0
            and (source.width, source.height) == frame
            and not source.variable_frame_rate
            and source.fps <= MAX_FPS + 0.5
            and source.keyframe_gap <= MAX_KEYFRAME_GAP  # else HLS segments would be too long
        )
        renditions.append(
            Rendition(
                height=height,
                frame_width=frame[0],
                frame_height=frame[1],
                copy_video=fits,
            )
        )
    return renditions


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def copy_audio(source: Source) -> bool:
    return (
        source.audio_codec == "aac" and source.audio_profile == "LC" and source.audio_channels <= 2
    )


def thumbnail_interval(duration: float) -> int:
    """Seconds between seek-preview thumbnails: every 2 s, at most :data:`MAX_THUMBS`."""
    return max(2, math.ceil(duration / MAX_THUMBS))


def encode_command(
    source_path: Path, source: Source, renditions: list[Rendition], out: Path
) -> list[str]:
    """The FFmpeg command writing every rendition and the thumbnail sprites in one pass."""
    fps = min(MAX_FPS, round(source.fps)) if source.fps > 0 else 25
    encoded = [r for r in renditions if not r.copy_video]
    branches = [f"[v{index}]" for index in range(len(encoded))] + ["[thumbs]"]
    interval = thumbnail_interval(source.duration)
    thumb_height = _even(THUMB_WIDTH * source.height / source.width)
    graph = [f"[0:v:0]split={len(branches)}{''.join(f'[s{i}]' for i in range(len(branches)))}"]
    for index, rendition in enumerate(encoded):
        graph.append(
            f"[s{index}]fps={fps},scale={rendition.frame_width}:{rendition.frame_height}"
            f":flags=bicubic,setsar=1,format=yuv420p[v{index}]"
        )
    graph.append(
        f"[s{len(encoded)}]select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval})',"
        f"scale={THUMB_WIDTH}:{thumb_height}:out_range=full,format=yuvj420p[thumbs]"
    )
    command = [
        ffmpeg_exe(),
        *("-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats"),
        *("-progress", "pipe:1", "-stats_period", "0.25"),
        *("-i", str(source_path)),
        *("-filter_complex", ";".join(graph)),
    ]
    keyframes = f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"
    position = 0
    for rendition in renditions:
        if rendition.copy_video:
            command += ["-map", "0:v:0", "-c:v", "copy"]
        else:
            rate = MAX_BITRATE.get(rendition.height) or _bitrate_for(rendition.height)
            command += [
                *("-map", f"[v{position}]"),
                *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"),
                *("-crf", "23", "-maxrate", str(rate), "-bufsize", str(2 * rate)),
                *("-pix_fmt", "yuv420p", "-force_key_frames", keyframes, "-sc_threshold", "0"),
                *("-r", str(fps)),
            ]
            position += 1
        if source.audio_codec is not None:
            command += ["-map", "0:a:0"]
            if copy_audio(source):
                command += ["-c:a", "copy"]
            else:
                command += ["-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2", "-ar", "48000"]
        command += [
            *("-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn"),
            *("-movflags", "+faststart"),
            str(out / rendition.file),
        ]
    # Single thumbnails (tiled into sprites afterwards, see tile_command): a tiled output would
    # only start at the end, and FFmpeg reports no progress until every output has started.
    command += [
        *("-map", "[thumbs]", "-fps_mode", "passthrough", "-c:v", "mjpeg", "-q:v", "5"),
        *("-start_number", "0", str(out / THUMBS_WORK / "t_%05d.jpg")),
    ]
    return command


def tile_command(out: Path) -> list[str]:
    """Tile the single thumbnails into sprites of 10 × 10 (small JPEGs: quick)."""
    return [
        ffmpeg_exe(),
        *("-hide_banner", "-nostdin", "-y", "-loglevel", "error"),
        *("-framerate", "1", "-start_number", "0", "-i", str(out / THUMBS_WORK / "t_%05d.jpg")),
        *("-vf", f"tile={THUMB_COLUMNS}x{THUMB_COLUMNS}", "-fps_mode", "passthrough"),
        *("-c:v", "mjpeg", "-q:v", "5"),
        *("-start_number", "0", str(out / "thumbs_%03d.jpg")),
    ]


def _bitrate_for(height: int) -> int:
    return int(MAX_BITRATE[720] * (height / 720) ** 1.5) if height < 720 else MAX_BITRATE[720]


def hls_command(rendition_file: Path, folder: Path) -> list[str]:
    """Cut an MP4 rendition into fMP4 HLS segments (no re-encoding)."""
    return [
        ffmpeg_exe(),
        *("-hide_banner", "-nostdin", "-y", "-loglevel", "error"),
        *("-i", str(rendition_file)),
        *("-map", "0", "-c", "copy"),
        *("-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod"),
        *("-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"),
        *("-hls_flags", "independent_segments"),
        *("-hls_segment_filename", str(folder / "seg_%05d.m4s")),
        str(folder / "index.m3u8"),
    ]


def run_ffmpeg(
    command: list[str], duration: float, on_progress: ProgressCallback | None = None
) -> None:
    """Run FFmpeg, reporting the fraction of ``duration`` done; raise with its error."""
    deadline = time.monotonic() + 60 + FFMPEG_TIMEOUT_FACTOR * max(duration, 1)
    with subprocess.Popen(  # noqa: S603 — our own argument list, no shell
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        preexec_fn=_die_with_parent,
    ) as process:
        stderr: list[str] = []
        reader = threading.Thread(target=lambda: stderr.extend(process.stderr or ()), daemon=True)
        reader.start()
        for line in process.stdout or ():
            if time.monotonic() > deadline:
                process.kill()
                raise TranscodeError("FFmpeg took too long")
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and on_progress is not None and value.isdigit():
                on_progress(min(1.0, int(value) / 1e6 / max(duration, 0.001)))
        process.wait()
        reader.join(timeout=5)
    if process.returncode != 0:
        tail = "".join(stderr)[-STDERR_TAIL:].strip() or f"exit status {process.returncode}"
        raise TranscodeError(f"FFmpeg failed: {tail}")


def _die_with_parent() -> None:
    """A worker killed mid-job takes its FFmpeg along (Linux: PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class Outputs:
    renditions: list[dict[str, Any]]
    thumbnails: bool


def build(source_path: Path, out: Path, on_progress: ProgressCallback | None = None) -> Outputs:
    """Write every web version of ``source_path`` into the empty folder ``out``.

    Progress goes from 0 to 1: the encode is 90 % of the work, the HLS cutting the rest.
    """
    source = inspect(source_path)
    renditions = plan(source)
    (out / THUMBS_WORK).mkdir(parents=True, exist_ok=True)

    def encode_progress(fraction: float) -> None:
        if on_progress is not None:
            on_progress(0.9 * fraction)

    run_ffmpeg(
        encode_command(source_path, source, renditions, out), source.duration, encode_progress
    )
    described = []
    for index, rendition in enumerate(renditions):
        folder = out / "hls" / rendition.name
        folder.mkdir(parents=True, exist_ok=True)
        run_ffmpeg(hls_command(out / rendition.file, folder), source.duration)
        described.append(describe(out, rendition))
        if on_progress is not None:
            on_progress(0.9 + 0.1 * (index + 1) / len(renditions))
    write_master_playlist(out / "hls" / "master.m3u8", described)
    thumbnails = write_thumbnail_track(out, source)
    return Outputs(renditions=described, thumbnails=thumbnails)


def make_sprites(out: Path) -> int:
    """Tile the thumbnails FFmpeg wrote into sprites; returns how many thumbnails there were."""
    count = len(list((out / THUMBS_WORK).glob("t_*.jpg")))
    if count:
        run_ffmpeg(tile_command(out), count)
    remove_tree(out / THUMBS_WORK)
    return count


def describe(out: Path, rendition: Rendition) -> dict[str, Any]:
    """What the player and the master playlist need to know of a finished rendition."""
    import av  # FFmpeg's bindings (23 MiB), loaded on first use, not by every web worker

    path = out / rendition.file
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = next(iter(container.streams.audio), None)
        codecs = [avc1_codec_string(video.codec_context.extradata)]
        if audio is not None:
            codecs.append("mp4a.40.2")
        duration = (container.duration or 0) / av.time_base
        fps = float(video.average_rate or 0)
    playlist = out / "hls" / rendition.name / "index.m3u8"
    return {
        "height": rendition.height,
        "width": rendition.frame_width,
        "frame_height": rendition.frame_height,
        "bandwidth": peak_bandwidth(playlist) or int(path.stat().st_size * 8 / max(duration, 1)),
        "average_bandwidth": int(path.stat().st_size * 8 / max(duration, 0.001)),
        "codecs": ",".join(codecs),
        "frame_rate": round(fps, 3),
        "file": rendition.file,
        "playlist": f"{rendition.name}/index.m3u8",
        "copied": rendition.copy_video,
    }


def avc1_codec_string(extradata: bytes | None) -> str:
    """RFC 6381's ``avc1.PPCCLL`` from an avcC record (profile, constraints, level)."""
    if extradata and len(extradata) >= 4 and extradata[0] == 1:
        return f"avc1.{extradata[1]:02x}{extradata[2]:02x}{extradata[3]:02x}"
    return "avc1.640028"


EXTINF = re.compile(r"#EXTINF:([0-9.]+),")


def peak_bandwidth(playlist: Path) -> int:
    """The highest bit rate of any segment of a variant playlist (HLS ``BANDWIDTH``)."""
    peak = 0.0
    duration = None
    for line in playlist.read_text().splitlines():
        match = EXTINF.match(line)
        if match:
            duration = float(match.group(1))
        elif line and not line.startswith("#") and duration:
            size = (playlist.parent / line).stat().st_size
            peak = max(peak, size * 8 / duration)
            duration = None
    return int(peak)


def write_master_playlist(path: Path, renditions: list[dict[str, Any]]) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for item in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={item['bandwidth']},"
            f"AVERAGE-BANDWIDTH={item['average_bandwidth']},"
            f"RESOLUTION={item['width']}x{item['frame_height']},"
            f'CODECS="{item["codecs"]}",FRAME-RATE={item["frame_rate"]:.3f}'
        )
        lines.append(item["playlist"])
    path.write_text("\n".join(lines) + "\n")


def write_thumbnail_track(out: Path, source: Source) -> bool:
    """The WebVTT track of seek previews over the sprites (``thumbs.vtt``)."""
    count = make_sprites(out)
    sprites = sorted(out.glob("thumbs_*.jpg"))
    if not sprites:
        return False
    interval = thumbnail_interval(source.duration)
    width, height = THUMB_WIDTH, _even(THUMB_WIDTH * source.height / source.width)
    count = min(count, math.ceil(source.duration / interval), len(sprites) * THUMBS_PER_SPRITE)
    lines = ["WEBVTT", ""]
    for index in range(count):
        start, end = index * interval, min((index + 1) * interval, source.duration)
        sprite, cell = divmod(index, THUMBS_PER_SPRITE)
        row, column = divmod(cell, THUMB_COLUMNS)
        lines += [
            f"{_timestamp(start)} --> {_timestamp(end)}",
            f"{sprites[sprite].name}#xywh={column * width},{row * height},{width},{height}",
            "",
        ]
    (out / "thumbs.vtt").write_text("\n".join(lines))
    return True


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def interleave_gap(path: Path) -> float:
    """The largest distance in time between audio and video at any point of the file.

    Walks the packets in file order; a player streaming the file must buffer this much of
    one stream to find the other. Our renditions keep it under a second.
    """
    import av  # FFmpeg's bindings (23 MiB), loaded on first use, not by every web worker

    last: dict[str, float] = {}
    gap = 0.0
    with av.open(str(path)) as container:
        streams = [s for s in (*container.streams.video[:1], *container.streams.audio[:1])]
        packets = [
            (packet.pos, packet.stream.type, float(packet.dts * packet.time_base))
            for packet in container.demux(streams)
            if packet.dts is not None and packet.pos is not None and packet.pos >= 0
        ]
    for _pos, kind, moment in sorted(packets):
        last[kind] = max(last.get(kind, 0.0), moment)
        if len(last) == 2:
            gap = max(gap, abs(last["video"] - last["audio"]))
    return gap
