"""The ingest pipeline: what real trainers upload becomes web versions that play everywhere.

Fixtures are made here with PyAV (and, for a phone's rotation flag, a stream copy by the same
FFmpeg the pipeline uses): small in pixels, long enough to have several HLS segments.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import pytest
from flask import Flask

from lms.cli import main
from lms.extensions import db
from lms.models import CourseTrainer, Lesson, MediaAsset
from lms.models._base import utcnow
from lms.services import demo_media, ingest, media, transcode
from tests.conftest import Client, video_lessons_of

# -- fixtures: what trainers bring ----------------------------------------------------------


def encode(
    path: Path,
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (320, 180),
    seconds: float = 10,
    fps: int = 15,
    audio: str | None = "aac",
    container: str | None = None,
    gop_seconds: float = 2,
    pts_jitter: bool = False,
    options: dict | None = None,
) -> Path:
    """A video with a moving picture and a tone, interleaved. ``pts_jitter`` makes the frame
    rate variable (as phones record)."""
    width, height = size
    with av.open(str(path), "w", format=container) as output:
        video = output.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.gop_size = max(1, int(gop_seconds * fps))
        if options:
            video.options = options
        video.codec_context.time_base = Fraction(1, 1000)
        sound = None
        if audio:
            sound = output.add_stream(audio, rate=48_000)
            sound.layout = "stereo"
        samples = 960  # 20 ms; the encoder re-chunks to its own frame size
        audio_pts = 0
        moment = 0.0
        index = 0
        while moment < seconds:
            frame = av.VideoFrame(width, height, "rgb24")
            shade = (index * 7) % 256
            plane = frame.planes[0]  # rows are padded to line_size (odd widths)
            row = bytes([shade, 255 - shade, 90]) * width
            plane.update((row + bytes(plane.line_size - len(row))) * height)
            frame.pts = round(moment * 1000)
            frame.time_base = Fraction(1, 1000)
            output.mux(video.encode(frame))
            step = 1 / fps
            if pts_jitter:
                step *= (0.5, 1.5, 1.0, 0.7, 1.3)[index % 5]
            moment += step
            index += 1
            while sound is not None and audio_pts / 48_000 < moment:
                chunk = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
                for plane in chunk.planes:
                    plane.update(bytes(4 * samples))
                chunk.sample_rate, chunk.pts = 48_000, audio_pts
                chunk.time_base = Fraction(1, 48_000)
                output.mux(sound.encode(chunk))
                audio_pts += samples
        output.mux(video.encode(None))
        if sound is not None:
            output.mux(sound.encode(None))
    return path


def rotate(source: Path, target: Path, degrees: int) -> Path:
    """A copy of ``source`` with a display-rotation flag, as an iPhone writes portrait video."""
    subprocess.run(
        [transcode.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-display_rotation", str(degrees), "-i", str(source), "-c", "copy", str(target)],
        check=True,
    )  # fmt: skip
    return target


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    hd = encode(folder / "hd.mp4", size=(1280, 720), seconds=9, fps=10)
    return {
        "hd": hd,  # fits at 720p: copied there, encoded at 360p
        "hevc": encode(folder / "iphone.mov", codec="libx265", container="mov", seconds=9,
                       options={"x265-params": "log-level=error"}),
        "portrait": rotate(encode(folder / "wide.mp4", size=(640, 360)),
                           folder / "portrait.mov", 90),
        "odd": encode(folder / "odd.webm", codec="libvpx-vp9", size=(321, 181), audio="libopus",
                      seconds=9, options={"deadline": "realtime", "cpu-used": "8"}),
        "vfr": encode(folder / "vfr.mkv", seconds=9, pts_jitter=True),
        "avi": demo_media.generate_demo_video(  # old courseware: MPEG-4 Part 2 and MP3
            folder / "old.avi", seconds=9, color="#0e7c66", size=(320, 180)
        ),
        "video_first": demo_media.generate_demo_video(
            folder / "video-first.webm", seconds=14, color="#1f4fb8", interleave=False
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory) -> dict[str, tuple[Path, transcode.Outputs]]:
    out = tmp_path_factory.mktemp("built")
    return {name: (out / name, transcode.build(path, out / name)) for name, path in sources.items()}


# -- the plan -------------------------------------------------------------------------------


def source(width: int, height: int, **facts) -> transcode.Source:
    defaults = {
        "rotation": 0, "duration": 60.0, "video_codec": "h264", "pix_fmt": "yuv420p",
        "fps": 30.0, "variable_frame_rate": False, "audio_codec": "aac", "audio_profile": "LC",
        "audio_channels": 2, "keyframe_gap": 2.0,
    }  # fmt: skip
    return transcode.Source(width=width, height=height, **{**defaults, **facts})


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((3840, 2160), [(640, 360), (1280, 720)]),
        ((1920, 1080), [(640, 360), (1280, 720)]),
        ((1080, 1920), [(360, 640), (720, 1280)]),  # portrait: the short side is the "p"
        ((854, 480), [(640, 360), (854, 480)]),
        ((640, 360), [(640, 360)]),
        ((320, 180), [(320, 180)]),  # never upscaled
        ((321, 181), [(320, 180)]),  # odd sizes become even
        ((2, 2), [(2, 2)]),
    ],
)
@pytest.mark.engine_independent
def test_renditions_are_360p_and_720p_capped_by_the_source(size, expected):
    frames = [(r.frame_width, r.frame_height) for r in transcode.plan(source(*size))]
    assert frames == expected


@pytest.mark.parametrize(
    ("facts", "copied"),
    [
        ({}, True),
        ({"video_codec": "hevc"}, False),
        ({"pix_fmt": "yuv420p10le"}, False),
        ({"rotation": 90}, False),
        ({"variable_frame_rate": True}, False),
        ({"fps": 60.0}, False),
        ({"keyframe_gap": 10.0}, False),  # HLS segments would be 10 s long
    ],
)
@pytest.mark.engine_independent
def test_a_stream_that_already_fits_is_copied_and_only_then(facts, copied):
    renditions = transcode.plan(source(1280, 720, **facts))
    assert [r.copy_video for r in renditions] == [False, copied]


@pytest.mark.engine_independent
def test_aac_lc_is_copied_other_audio_is_encoded():
    assert transcode.copy_audio(source(640, 360))
    assert not transcode.copy_audio(source(640, 360, audio_codec="opus", audio_profile=None))
    assert not transcode.copy_audio(source(640, 360, audio_profile="HE-AAC"))
    assert not transcode.copy_audio(source(640, 360, audio_channels=6))


# -- what the pipeline writes ---------------------------------------------------------------


def stream_facts(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = next(iter(container.streams.audio), None)
        frames = list(container.decode(video=0))
        durations = {round(float(b.pts - a.pts) * float(b.time_base), 4)
                     for a, b in itertools.pairwise(frames)}  # fmt: skip
        return {
            "codec": video.codec_context.name,
            "profile": video.codec_context.profile,
            "pix_fmt": video.codec_context.format.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "rotation": frames[0].rotation,
            "frame_durations": durations,
            "audio": (audio.codec_context.name, audio.codec_context.profile) if audio else None,
        }


@pytest.mark.parametrize("name", ["hd", "hevc", "portrait", "odd", "vfr", "avi", "video_first"])
@pytest.mark.engine_independent
def test_every_rendition_plays_everywhere(built, sources, name):
    folder, outputs = built[name]
    assert outputs.renditions, name
    for rendition in outputs.renditions:
        path = folder / rendition["file"]
        facts = stream_facts(path)
        assert facts["codec"] == "h264"
        assert rendition["copied"] or facts["profile"] == "High"
        assert facts["pix_fmt"] == "yuv420p"
        assert facts["rotation"] == 0  # turned upright, no flag left for players to ignore
        assert all(side % 2 == 0 for side in facts["size"])
        assert facts["audio"] == ("aac", "LC")
        assert len(facts["frame_durations"]) == 1  # a constant frame rate
        head = path.read_bytes()[:64]
        assert head[4:8] == b"ftyp" and b"moov" in head  # faststart: the index first
        assert transcode.interleave_gap(path) <= 1.0


@pytest.mark.engine_independent
def test_portrait_phone_video_is_turned_upright(built):
    _folder, outputs = built["portrait"]
    assert [(r["width"], r["frame_height"]) for r in outputs.renditions] == [(360, 640)]


@pytest.mark.engine_independent
def test_the_audio_is_interleaved_again_where_the_source_was_not(sources, built):
    assert transcode.interleave_gap(sources["video_first"]) > 3
    folder, outputs = built["video_first"]
    assert transcode.interleave_gap(folder / outputs.renditions[0]["file"]) <= 1.0


@pytest.mark.engine_independent
def test_a_720p_h264_source_is_copied_at_720p(built, sources):
    _folder, outputs = built["hd"]
    assert [(r["height"], r["copied"]) for r in outputs.renditions] == [(360, False), (720, True)]


@pytest.mark.engine_independent
def test_the_hls_package_lists_every_rendition_in_short_segments(built):
    folder, outputs = built["hd"]
    master = (folder / "hls" / "master.m3u8").read_text()
    assert master.startswith("#EXTM3U")
    variants = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)", master)
    assert [uri for _tags, uri in variants] == ["360p/index.m3u8", "720p/index.m3u8"]
    for (tags, uri), rendition in zip(variants, outputs.renditions, strict=True):
        assert f"RESOLUTION={rendition['width']}x{rendition['frame_height']}" in tags
        assert re.search(r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"', tags)
        assert int(re.search(r"BANDWIDTH=(\d+)", tags).group(1)) > 0
        playlist = (folder / "hls" / uri).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and '#EXT-X-MAP:URI="init.mp4"' in playlist
        durations = [float(d) for d in re.findall(r"#EXTINF:([0-9.]+),", playlist)]
        assert len(durations) >= 2 and max(durations) <= 6
        assert sum(durations) == pytest.approx(9, abs=0.2)
        for segment in re.findall(r"seg_\d{5}\.m4s", playlist):
            assert (folder / "hls" / uri).parent.joinpath(segment).stat().st_size > 0


@pytest.mark.engine_independent
def test_seek_previews_point_into_sprites(built):
    folder, _outputs = built["hd"]
    track = (folder / "thumbs.vtt").read_text()
    assert track.startswith("WEBVTT")
    cues = re.findall(
        r"(\d\d:\d\d:\d\d\.\d{3}) --> .*\n(thumbs_\d{3}\.jpg)#xywh=(\d+),(\d+),160,90", track
    )
    assert len(cues) == 5  # one every 2 s of 9 s
    for _start, sprite, x, y in cues:
        assert (folder / sprite).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
        assert int(x) % 160 == 0 and int(y) % 90 == 0


@pytest.mark.engine_independent
def test_progress_rises_while_ffmpeg_works(tmp_path):
    """FFmpeg reports while it encodes (not only at the end: a tiled output used to hold its
    reports back until the last frame). The source is MPEG-4 Part 2, so the encode is real
    work even on an idle machine (an H.264 source would be copied in well under FFmpeg's
    0.25 s reporting period)."""
    clip = encode(tmp_path / "clip.mp4", codec="mpeg4", size=(640, 360), seconds=20, fps=25)
    seen: list[float] = []
    transcode.build(clip, tmp_path / "out", seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert any(0 < value < 0.8 for value in seen), seen  # before the encode ended


@pytest.mark.engine_independent
def test_ffmpeg_errors_are_reported_with_its_words(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000))
    with pytest.raises(transcode.TranscodeError):
        transcode.build(broken, tmp_path / "out")


# -- the job: claims, leases, failures, retries ----------------------------------------------


@pytest.fixture
def app(make_app) -> Flask:
    return make_app(JOBS_INLINE=True, MEDIA_PROCESSING_LEASE=2)


def stored(app: Flask, path: Path, name: str | None = None) -> int:
    """Store a file as an upload would, without processing it yet."""
    with app.app_context(), path.open("rb") as handle:
        asset, _created = media.store_stream(handle, name or path.name)
        return asset.id


def asset_of(app: Flask, asset_id: int) -> MediaAsset:
    with app.app_context():
        asset = db.session.get(MediaAsset, asset_id)
        db.session.expunge(asset)
        return asset


def test_a_processed_asset_records_its_web_versions(app, sources):
    asset_id = stored(app, sources["hevc"])
    with app.app_context():
        ingest.process(asset_id)
    asset = asset_of(app, asset_id)
    assert asset.status == "ready" and asset.error is None
    assert asset.mime_type == "video/quicktime" and asset.video_codec == "hevc"
    assert asset.duration_seconds == pytest.approx(9, abs=0.2)
    assert [r["height"] for r in asset.renditions] == [180]
    assert asset.has_thumbnails and asset.poster_key
    assert asset.pipeline_version == transcode.PIPELINE_VERSION
    assert (asset.progress, asset.eta_seconds, asset.heartbeat_at) == (1.0, None, None)
    with app.app_context():
        folder = ingest.stream_path(asset)
    assert (folder / "hls" / "master.m3u8").is_file() and (folder / "180p.mp4").is_file()


def test_a_live_claim_keeps_a_second_worker_off(app, sources):
    asset_id = stored(app, sources["hd"])
    with app.app_context():
        assert ingest.claim(asset_id)
        assert not ingest.claim(asset_id)  # another worker, while the first is alive
        ingest.process(asset_id)  # the second worker's job: nothing happens
        assert db.session.get(MediaAsset, asset_id).status == "processing"
        later = utcnow() + timedelta(seconds=3)  # the first worker's heartbeat stopped
        assert ingest.claim(asset_id, now=later)
        assert db.session.get(MediaAsset, asset_id).attempts == 2


def test_interrupted_processing_is_resumed_and_finishes(app, sources):
    asset_id = stored(app, sources["hd"])
    with app.app_context():
        ingest.claim(asset_id, now=utcnow() - timedelta(minutes=5))  # a worker that died
        assert [a.id for a in ingest.stuck()] == [asset_id]
        assert ingest.resume_interrupted() == [asset_id]  # inline in tests: processed now
        assert db.session.get(MediaAsset, asset_id).status == "ready"
        assert ingest.stuck() == [] and ingest.resume_interrupted() == []


def test_a_video_interrupted_three_times_fails_with_the_reason(app, sources):
    asset_id = stored(app, sources["hd"])
    with app.app_context():
        db.session.get(MediaAsset, asset_id).attempts = ingest.MAX_ATTEMPTS
        db.session.commit()
        ingest.process(asset_id)
        asset = db.session.get(MediaAsset, asset_id)
        assert asset.status == "failed" and "interrupted 3 times" in asset.error


def test_a_worker_killed_mid_job_leaves_nothing_stuck(app, app_config, sources, tmp_path):
    """A real process is SIGKILLed while FFmpeg works (its FFmpeg dies with it); the next
    start takes the video up again and finishes it."""
    big = encode(tmp_path / "long.mp4", size=(1280, 720), seconds=40, fps=25)
    asset_id = stored(app, big)
    script = (
        "import sys, json; from lms import create_app; from lms.services import ingest\n"
        "app = create_app(json.loads(sys.argv[1]))\n"
        "with app.app_context(): ingest.process(int(sys.argv[2]))\n"
    )
    config = {**app_config, "MEDIA_PROCESSING_LEASE": 2}
    worker = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(config), str(asset_id)], cwd=Path.cwd()
    )
    deadline = time.monotonic() + 60
    while asset_of(app, asset_id).progress <= 0 and time.monotonic() < deadline:
        assert worker.poll() is None, "the worker ended before it could be killed"
        time.sleep(0.2)
    assert asset_of(app, asset_id).progress > 0
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert asset_of(app, asset_id).status == "processing"
    time.sleep(2.5)  # the lease runs out
    with app.app_context():
        assert ingest.check_stuck().ok is False
        assert ingest.resume_interrupted() == [asset_id]
    asset = asset_of(app, asset_id)
    assert asset.status == "ready" and asset.attempts == 2
    streams = Path(app.config["MEDIA_ROOT"]) / "streams"
    assert [p.name for p in streams.iterdir()] == [asset.stream_dir]  # nothing half-made kept


def test_a_failed_transcode_is_shown_and_can_be_retried(
    app, sources, monkeypatch, trainer, learner
):
    real_build = transcode.build

    def broken(*_args, **_kwargs):
        raise transcode.TranscodeError("FFmpeg failed: Invalid data found")

    monkeypatch.setattr(transcode, "build", broken)
    asset_id = stored(app, sources["odd"])
    with app.app_context():
        ingest.process(asset_id)
    assert asset_of(app, asset_id).status == "failed"
    assert list((Path(app.config["MEDIA_ROOT"]) / "streams").glob("*")) == []

    teacher = Client(app.test_client())
    teacher.login(trainer.email)
    library = teacher.get("/teach/media").get_data(as_text=True)
    assert "Invalid data found" in library and f"/teach/media/{asset_id}/retry" in library
    status = teacher.get(f"/teach/media/{asset_id}/status").get_json()
    assert status["status"] == "failed" and "Invalid data" in status["error"]

    student = Client(app.test_client())
    student.login(learner.email)
    assert student.get(f"/teach/media/{asset_id}/status").status_code == 403
    assert student.post(f"/teach/media/{asset_id}/retry").status_code == 403
    assert asset_of(app, asset_id).status == "failed"

    monkeypatch.setattr(transcode, "build", real_build)
    assert teacher.post(f"/teach/media/{asset_id}/retry", csrf=False).status_code == 400
    response = teacher.post(f"/teach/media/{asset_id}/retry")
    assert response.status_code == 302 and response.location.endswith("/teach/media")
    assert asset_of(app, asset_id).status == "ready"
    assert teacher.post(f"/teach/media/{asset_id}/retry").status_code == 409  # not failed
    assert teacher.get("/teach/media/999999/status").status_code == 404


def test_trainers_see_progress_while_a_video_is_processed(app, sources, trainer):
    asset_id = stored(app, sources["hd"])
    with app.app_context():
        asset = db.session.get(MediaAsset, asset_id)
        asset.progress, asset.eta_seconds = 0.42, 75.0
        db.session.commit()
    teacher = Client(app.test_client())
    teacher.login(trainer.email)
    assert teacher.get(f"/teach/media/{asset_id}/status").get_json() == {
        "id": asset_id, "status": "processing", "progress": 0.42, "percent": 42,
        "eta_seconds": 75, "error": None,
    }  # fmt: skip
    page = teacher.get("/teach/media").get_data(as_text=True)
    assert 'data-status-url="/teach/media/' in page and 'value="42"' in page
    assert "js/media-status.js" in page


def test_reprocessing_swaps_in_new_versions_and_removes_the_old(app, sources):
    asset_id = stored(app, sources["hd"])
    with app.app_context():
        ingest.process(asset_id)
        asset = db.session.get(MediaAsset, asset_id)
        old_folder, old_poster = ingest.stream_path(asset), asset.poster_key
        asset.pipeline_version = 0
        db.session.commit()
    result = app.test_cli_runner().invoke(main, ["media", "reprocess", "--outdated"])
    assert result.exit_code == 0, result.output
    assert "1 reprocessed, 0 failed" in result.output and "(360p / 720p)" in result.output
    asset = asset_of(app, asset_id)
    assert asset.pipeline_version == transcode.PIPELINE_VERSION and asset.status == "ready"
    with app.app_context():
        assert ingest.stream_path(asset) != old_folder and ingest.stream_path(asset).is_dir()
    assert not old_folder.exists() and asset.poster_key != old_poster
    assert app.test_cli_runner().invoke(main, ["media", "reprocess"]).exit_code == 2
    missing = app.test_cli_runner().invoke(main, ["media", "reprocess", "999999"])
    assert missing.exit_code == 1 and "no video with id 999999" in missing.output


def test_lms_check_reports_videos_stuck_in_processing(app, sources):
    asset_id = stored(app, sources["hd"], "lecture.mp4")
    with app.app_context():
        ingest.claim(asset_id, now=utcnow() - timedelta(minutes=5))
    result = app.test_cli_runner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert "FAIL video processing: 1 stuck in processing: video" in result.output
    assert "'lecture.mp4'" in result.output


def test_lesson_minutes_follow_the_probed_duration(app, course, sources):
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        lesson.minutes = 45  # typed by hand
        asset, _ = media.import_file(encode(Path(app.config["MEDIA_ROOT"]).parent / "m.mp4",
                                            seconds=95, size=(64, 36), fps=5))  # fmt: skip
        lesson.media = asset
        db.session.commit()
        ingest.set_lesson_minutes(asset)
        db.session.commit()
        assert db.session.get(Lesson, lesson.id).minutes == 2


# -- who may fetch the web versions --------------------------------------------------------


@pytest.fixture
def served(app, course, sources, make_user, trainer) -> tuple[int, MediaAsset]:
    """The HD source on the course's first video lesson; the trainer teaches the course."""
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        asset, _ = media.import_file(sources["hd"])
        lesson.media = asset
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
        db.session.refresh(asset)
        db.session.expunge(asset)
        return lesson.id, asset


def media_urls(lesson_id: int) -> list[str]:
    base = f"/media/lessons/{lesson_id}"
    return [
        base, f"{base}/mp4/360.mp4", f"{base}/mp4/720.mp4", f"{base}/hls/master.m3u8",
        f"{base}/hls/360p/index.m3u8", f"{base}/hls/720p/init.mp4",
        f"{base}/hls/720p/seg_00000.m4s", f"{base}/thumbs.vtt", f"{base}/thumbs/thumbs_000.jpg",
        f"{base}/poster.jpg",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 302),
        ("stranger", 404),
        ("enrolled", 200),
        ("course trainer", 200),
        ("other trainer", 404),
        ("organizer", 200),
    ],
)
def test_every_file_of_a_video_follows_the_lessons_access_rule(
    app, course, served, make_user, trainer, organizer, who, expected
):
    lesson_id, _asset = served
    client = Client(app.test_client())
    email = {
        "stranger": make_user("stranger@example.com").email,
        "enrolled": make_user("viewer@example.com").email,
        "course trainer": trainer.email,
        "other trainer": make_user("other@example.com", role="trainer").email,
        "organizer": organizer.email,
    }.get(who)
    if email:
        client.login(email)
    if who == "enrolled":
        client.post(f"/camps/{course.camp.slug}/{course.slug}/enroll")
    for url in media_urls(lesson_id):
        response = client.get(url)
        assert response.status_code == expected, (who, url)
        if expected == 200:
            assert "no-store" in response.headers["Cache-Control"], url
            assert response.data


def test_media_urls_name_only_the_files_of_the_package(app, course, served, organizer):
    lesson_id, _asset = served
    client = Client(app.test_client())
    client.login(organizer.email)
    base = f"/media/lessons/{lesson_id}"
    for name in (
        "hls/../../posters/x.jpg", "hls/360p/../../360p.mp4", "hls/%2e%2e/master.m3u8",
        "hls/master.m3u8.bak", "hls/360p/seg_1.m4s", "hls/1080p/index.m3u8", "mp4/1080.mp4",
        "mp4/-1.mp4", "thumbs/thumbs_999.jpg", "thumbs/../thumbs.vtt", "hls/360p/seg_99999.m4s",
    ):  # fmt: skip
        assert client.get(f"{base}/{name}").status_code == 404, name


def test_the_thumbnail_track_names_sprite_urls_not_files(app, course, served, organizer):
    lesson_id, asset = served
    client = Client(app.test_client())
    client.login(organizer.email)
    track = client.get(f"/media/lessons/{lesson_id}/thumbs.vtt")
    assert track.mimetype == "text/vtt"
    text = track.get_data(as_text=True)
    assert f"/media/lessons/{lesson_id}/thumbs/thumbs_000.jpg#xywh=0,0,160,90" in text
    assert asset.stream_dir not in text


def test_hls_content_types(app, course, served, organizer):
    lesson_id, _asset = served
    client = Client(app.test_client())
    client.login(organizer.email)
    base = f"/media/lessons/{lesson_id}/hls"
    assert client.get(f"{base}/master.m3u8").mimetype == "application/vnd.apple.mpegurl"
    assert client.get(f"{base}/720p/init.mp4").mimetype == "video/mp4"
    assert client.get(f"{base}/720p/seg_00000.m4s").mimetype == "video/iso.segment"
    ranged = client.get(f"/media/lessons/{lesson_id}/mp4/360.mp4", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and len(ranged.data) == 10


def test_a_course_without_the_asset_ready_serves_nothing(app, course, sources, organizer):
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        lesson.media_id = stored(app, sources["odd"])  # still processing
        db.session.commit()
        lesson_id = lesson.id
    client = Client(app.test_client())
    client.login(organizer.email)
    for url in media_urls(lesson_id):
        assert client.get(url).status_code == 404, url
