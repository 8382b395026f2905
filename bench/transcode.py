"""``python -m bench transcode``: the ingest pipeline against the FFmpeg command line.

A 60-second 1920x1080 30 fps clip (FFmpeg's ``testsrc2`` with temporal noise, so the encoder
works as hard as on a camera's picture, at 8 Mbit/s H.264, and a speech-like AAC track) is
turned into its web versions three times each way, alternately, each run in a fresh Python process:

* **pipeline**: ``lms.services.transcode.build(src, out)`` — probing with PyAV, the one-pass
  encode of every rendition and the thumbnail sprites, the HLS cutting, the playlists'
  measured bit rates and the thumbnail track;
* **cli**: the same FFmpeg command lines (``encode_command``, ``hls_command`` for each
  rendition, ``tile_command`` for the sprites) run with ``subprocess.run``, planned
  beforehand outside the timing.

Figures (best wall time of each side):

* ``transcode_vs_ffmpeg_cli``: cli time ÷ pipeline time (1.0: no overhead; target ≥ 0.9);
* ``transcode_realtime_factor``: seconds of video per second of wall time, the pipeline;
* ``transcode_peak_rss``: the largest resident size of the pipeline's process (VmHWM) and of
  the FFmpeg processes it ran (getrusage RUSAGE_CHILDREN), in MiB, and
  ``transcode_peak_rss_3x_duration`` for the same clip three times as long (180 s: the
  same frames, so the same work per second) — it must not grow with the file.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 60
RUNS = 3  # of each side, alternated (each pair in the other order than the last)
WIDTH, HEIGHT, FPS = 1920, 1080, 30
VIDEO_BITRATE = "8M"  # a 1080p30 camera or screen recording


def make_clip(path: Path, seconds: int, width: int, height: int, bitrate: str) -> Path:
    """An H.264 + AAC-LC MP4 of a moving test card with temporal noise and a speech-like tone
    (a pitch gliding around a voice's, in syllables, over a little room noise)."""
    from lms.services.transcode import ffmpeg_exe

    voice = (
        "aevalsrc='0.35*sin(2*PI*(170+50*sin(2*PI*0.7*t))*t)*pow(abs(sin(2*PI*2.5*t)),2)"
        "*(lt(mod(t,4),3.2))':s=48000:c=mono"
    )
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}:duration={seconds}",
        "-f", "lavfi", "-i", f"{voice},atrim=duration={seconds}",
        "-f", "lavfi", "-i", f"anoisesrc=a=0.01:c=pink:r=48000:d={seconds}",
        "-filter_complex", "[0:v]noise=alls=10:allf=t+u[v];[1:a][2:a]amix=inputs=2[a]",
        "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-g", str(2 * FPS),
        "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return path


def repeat_clip(source: Path, path: Path, times: int) -> Path:
    """``source`` played ``times`` times in a row, without re-encoding."""
    from lms.services.transcode import ffmpeg_exe

    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-stream_loop", str(times - 1), "-i", str(source), "-map", "0", "-c", "copy",
        "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return path


def cli_commands(source_path: Path, out: Path) -> list[list[str]]:
    """The pipeline's FFmpeg command lines for ``source_path``, planned (not timed)."""
    from lms.services import transcode

    source = transcode.inspect(source_path)
    renditions = transcode.plan(source)
    commands = [transcode.encode_command(source_path, source, renditions, out)]
    for rendition in renditions:
        commands.append(transcode.hls_command(out / rendition.file, out / "hls" / rendition.name))
    if hasattr(transcode, "tile_command"):  # the thumbnails tiled into sprites afterwards
        commands.append(transcode.tile_command(out))
    return commands


def own_peak_rss_kib() -> int:
    """This process's peak resident size since it started (VmHWM). getrusage's RUSAGE_SELF
    would do, but on Linux it keeps the parent's figure across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(kind: str, source: Path, out: Path, plan_file: Path | None) -> None:
    """One measured run, in a process of its own; prints a JSON line."""
    if kind == "pipeline":
        from lms.services import transcode

        start = time.perf_counter()
        transcode.build(source, out)
        elapsed = time.perf_counter() - start
    else:
        commands = json.loads(plan_file.read_text())
        start = time.perf_counter()
        out.mkdir(parents=True)
        for command in commands:
            for argument in command:  # the folders the outputs go to, as the pipeline makes
                if argument.startswith(f"{out}/") and "%" not in Path(argument).parent.name:
                    Path(argument).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rss_self_kib": own_peak_rss_kib(),
                "rss_children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            }
        ),
        flush=True,
    )


def measure(kind: str, source: Path, out: Path, plan_file: Path | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "bench.transcode", "--child", kind, str(source), str(out)]
    if plan_file is not None:
        command.append(str(plan_file))
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"the {kind} run failed: {finished.stderr[-3000:]}")
    output = finished.stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mib"] = max(result["rss_self_kib"], result["rss_children_kib"]) / 1024
    print(
        f"bench: transcode {kind} {source.name}: {result['seconds']:.1f} s, python "
        f"{result['rss_self_kib'] / 1024:.0f} MiB, ffmpeg {result['rss_children_kib'] / 1024:.0f} "
        "MiB",
        file=sys.stderr,
        flush=True,
    )
    return result


def different_outputs(pipeline_out: Path, cli_out: Path) -> set[str]:
    """The files only one side wrote, besides the two only Python writes and the single
    thumbnails the pipeline deletes once tiled (none: the same work)."""
    made = {str(p.relative_to(cli_out)) for p in cli_out.rglob("*") if p.is_file()}
    built = {str(p.relative_to(pipeline_out)) for p in pipeline_out.rglob("*") if p.is_file()}
    only = made ^ built
    return {name for name in only if not name.startswith("_thumbs/")} - {
        "hls/master.m3u8",
        "thumbs.vtt",
    }


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.3f} {unit}", flush=True)


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="lms-bench-transcode-") as folder:
        work = Path(folder)
        start = time.perf_counter()
        clip = make_clip(work / "clip-1080p.mp4", SECONDS, WIDTH, HEIGHT, VIDEO_BITRATE)
        print(
            f"bench: made the {SECONDS} s 1080p clip ({clip.stat().st_size >> 20} MiB) in "
            f"{time.perf_counter() - start:.0f} s",
            file=sys.stderr,
        )
        plan_file = work / "commands.json"
        plan_file.write_text(json.dumps(cli_commands(clip, work / "cli")))
        pipeline, cli = [], []
        for number in range(RUNS):
            if number % 2:
                cli.append(measure("cli", clip, work / "cli", plan_file))
            pipeline.append(measure("pipeline", clip, work / "pipeline"))
            if not number % 2:
                cli.append(measure("cli", clip, work / "cli", plan_file))
        different = different_outputs(work / "pipeline", work / "cli")
        if different:
            print(
                f"bench: only one side wrote {sorted(different)[:10]} ({len(different)} files)",
                file=sys.stderr,
            )
        best_pipeline = min(run["seconds"] for run in pipeline)
        best_cli = min(run["seconds"] for run in cli)
        peak = max(run["peak_rss_mib"] for run in pipeline)
        long_clip = repeat_clip(clip, work / "clip-1080p-3x.mp4", 3)
        shutil.rmtree(work / "pipeline", ignore_errors=True)
        shutil.rmtree(work / "cli", ignore_errors=True)
        long_run = measure("pipeline", long_clip, work / "pipeline-3x")
    report("transcode_pipeline_seconds", best_pipeline, "s")
    report("transcode_ffmpeg_cli_seconds", best_cli, "s")
    report("transcode_vs_ffmpeg_cli", best_cli / best_pipeline, "ratio")
    report("transcode_realtime_factor", SECONDS / best_pipeline, "x")
    report("transcode_peak_rss", peak, "MiB")
    report("transcode_peak_rss_ffmpeg_cli", max(run["peak_rss_mib"] for run in cli), "MiB")
    report("transcode_peak_rss_3x_duration", long_run["peak_rss_mib"], "MiB")
    report("transcode_realtime_factor_3x_duration", 3 * SECONDS / long_run["seconds"], "x")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "--child":
        os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        child(
            sys.argv[2],
            Path(sys.argv[3]),
            Path(sys.argv[4]),
            Path(sys.argv[5]) if len(sys.argv) > 5 else None,
        )
    else:
        run()
