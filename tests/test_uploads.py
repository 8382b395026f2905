"""Trainer uploads: videos (stored, sniffed, probed by a job), captions and the library."""

from __future__ import annotations

import io
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from flask import Flask

from lms.cli import main
from lms.extensions import db
from lms.models import Caption, CourseTrainer, Lesson, MediaAsset, Module
from lms.services import jobs, media
from lms.services.loading import load
from tests.conftest import Client, course_url, redis_test_url, video_lessons_of
from tests.servers import unavailable

REDIS_URL = redis_test_url(0)  # its own database in this xdist worker
VTT = (
    "WEBVTT - lesson one\n\n"
    "1\n00:00:00.000 --> 00:00:01.500\nHello, park!\n\n"
    "00:01.500 --> 00:03.000 align:start\n你好\n"
).encode()
MULTIPART = {"content_type": "multipart/form-data"}


@pytest.fixture
def app(make_app) -> Flask:
    """Jobs run inline, so a video is probed before the upload's answer."""
    return make_app(JOBS_INLINE=True)


@pytest.fixture
def video_bytes(demo_video: Path) -> bytes:
    return demo_video.read_bytes()


@pytest.fixture
def lesson_id(app: Flask, course) -> int:
    """The first video lesson of the course; it has no video yet."""
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        assert lesson.media_id is None
        return lesson.id


@pytest.fixture
def editor(app: Flask, course, trainer) -> Client:
    """A trainer of the course, logged in."""
    with app.app_context():
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
    return logged_in(app, trainer.email)


@pytest.fixture
def student(app: Flask, course, learner) -> Client:
    """An enrolled learner, logged in."""
    client = logged_in(app, learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    return client


def logged_in(app: Flask, email: str) -> Client:
    client = Client(app.test_client())
    assert client.login(email).status_code == 302
    return client


def upload(client: Client, lesson_id: int, content: bytes, name: str, **fields: str):
    data = {"video": (io.BytesIO(content), name), **fields}
    return client.post(f"/teach/lessons/{lesson_id}/video", data, **MULTIPART)


def stored_files(app: Flask) -> list[Path]:
    return sorted(p for p in Path(app.config["MEDIA_ROOT"]).rglob("*") if p.is_file())


def lesson_and_asset(app: Flask, lesson_id: int) -> tuple[Lesson, MediaAsset | None]:
    with app.app_context():
        lesson = db.session.get(Lesson, lesson_id)
        asset = load(lesson, "media")
        db.session.expunge_all()
        return lesson, asset


def asset_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(MediaAsset.id)))


def lesson_page(client: Client, course, lesson_id: int, app: Flask) -> str:
    with app.app_context():
        slug = db.session.get(Lesson, lesson_id).slug
    response = client.get(course_url(course) + f"lessons/{slug}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def ebml_garbage(size: int) -> bytes:
    """Starts like a WebM (EBML magic), then noise."""
    noise = random.Random(size).randbytes(size - 4)
    return media.EBML_MAGIC + noise


def make_mp4(path: Path) -> Path:
    """A real one-second MPEG-4 video in an MP4 container."""
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame(64, 48, "rgb24")
            frame.planes[0].update(bytes([index * 20 % 256, 80, 160]) * (64 * 48))
            frame.pts = index
            output.mux(stream.encode(frame.reformat(format="yuv420p")))
        output.mux(stream.encode(None))
    return path


# -- uploading a video -----------------------------------------------------------------


def test_an_uploaded_video_is_stored_probed_and_played(
    app, editor, student, course, lesson_id, video_bytes
):
    response = upload(editor, lesson_id, video_bytes, "My Lecture.webm", duration="9999")
    assert response.status_code == 302
    assert response.location == f"/teach/lessons/{lesson_id}"
    assert "Video uploaded." in editor.get(response.location).get_data(as_text=True)

    lesson, asset = lesson_and_asset(app, lesson_id)
    assert asset is not None
    assert asset.status == "ready" and asset.error is None
    assert asset.duration_seconds == pytest.approx(3.0, abs=0.1)  # probed, not the 9999 sent
    assert lesson.minutes == 1
    assert (asset.mime_type, asset.video_codec, asset.audio_codec) == ("video/webm", "vp8", "opus")
    assert (asset.width, asset.height, asset.size_bytes) == (320, 180, len(video_bytes))
    assert asset.original_name == "My Lecture.webm"
    with app.app_context():
        stored = media.storage_path(asset)
    assert stored.name == asset.storage_key != "My Lecture.webm"
    assert stored.read_bytes() == video_bytes
    assert not any("Lecture" in p.name for p in stored_files(app))

    poster = student.get(f"/media/lessons/{lesson_id}/poster.jpg")
    assert poster.status_code == 200
    assert poster.mimetype == "image/jpeg"
    assert poster.data.startswith(b"\xff\xd8")
    page = lesson_page(student, course, lesson_id, app)
    assert f'data-hls="/media/lessons/{lesson_id}/hls/master.m3u8"' in page
    assert f'poster="/media/lessons/{lesson_id}/poster.jpg"' in page
    assert "0:03" in page
    teach_page = editor.get(f"/teach/lessons/{lesson_id}").get_data(as_text=True)
    assert "My Lecture.webm" in teach_page and "vp8/opus" in teach_page


def test_the_same_file_twice_is_one_asset(app, editor, course, lesson_id, video_bytes):
    assert upload(editor, lesson_id, video_bytes, "first.webm").status_code == 302
    with app.app_context():
        other = db.session.scalars(
            db.select(Lesson.id)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.id != lesson_id)
        ).first()
    assert upload(editor, other, video_bytes, "second.webm").status_code == 302
    library = editor.post(
        "/teach/media", {"video": (io.BytesIO(video_bytes), "third.webm")}, **MULTIPART
    )
    assert library.status_code == 302
    assert asset_count(app) == 1
    assert lesson_and_asset(app, lesson_id)[1].id == lesson_and_asset(app, other)[1].id
    videos = [p for p in stored_files(app) if p.suffix == ".webm"]
    assert len(videos) == 1
    assert not [p for p in stored_files(app) if p.suffix == ".upload"]  # no temporary left


def test_a_video_is_processing_until_its_job_runs(
    make_app, app, editor, trainer, student, course, lesson_id, video_bytes, monkeypatch
):
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda *args: queued.append(args))
    background = make_app(sync=False)  # JOBS_INLINE off: the thread pool
    trainer = logged_in(background, trainer.email)
    response = upload(trainer, lesson_id, video_bytes, "lecture.webm")
    assert response.status_code == 302

    _lesson, asset = lesson_and_asset(app, lesson_id)
    assert asset.status == "processing" and asset.duration_seconds is None
    assert queued == [("lms.services.ingest.process", asset.id)]
    page = lesson_page(student, course, lesson_id, app)
    assert "The video is being processed." in page
    assert "<video" not in page
    assert student.get(f"/media/lessons/{lesson_id}").status_code == 404
    assert "processing" in editor.get(f"/teach/lessons/{lesson_id}").get_data(as_text=True)


def test_the_thread_pool_processes_the_video(
    make_app, app, editor, trainer, lesson_id, video_bytes
):
    background = make_app(sync=False)
    assert not background.config["JOBS_INLINE"] and not background.config["REDIS_URL"]
    trainer = logged_in(background, trainer.email)
    assert upload(trainer, lesson_id, video_bytes, "lecture.webm").status_code == 302
    deadline = time.monotonic() + 30
    while (asset := lesson_and_asset(app, lesson_id)[1]).status == "processing":
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(0.05)
    assert asset.status == "ready"
    assert asset.duration_seconds == pytest.approx(3.0, abs=0.1)


# -- refused uploads -------------------------------------------------------------------


HTML = b"<html><script>alert(1)</script></html>" * 10
ONLY_VIDEOS = "Only MP4, MOV, M4V, WebM, MKV and AVI videos are accepted."


def make_audio_only_mp4(path: Path) -> Path:
    """Two seconds of AAC in an MP4: a container we take, with no picture in it."""
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=48_000)
        stream.layout = "mono"
        for start in range(0, 2 * 48_000, 1024):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(4 * 1024))
            frame.sample_rate, frame.pts = 48_000, start
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("lecture.mp4", HTML, "is not a video of the type its name says"),
        ("lecture.mp4", None, "is not a video of the type its name says"),  # WebM bytes
        ("lecture.webm", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "not a video of the type"),
        ("lecture.avi", None, "is not a video of the type its name says"),  # WebM bytes
        ("lecture.mov", HTML, "is not a video of the type its name says"),
        ("lecture.mkv", b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 100, "not a video of the type"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100, ONLY_VIDEOS),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", ONLY_VIDEOS),
        ("lecture", None, ONLY_VIDEOS),
        ("empty.webm", b"", "is not a video of the type its name says"),
        ("song.mp4", None, "The file has no video in it."),  # an MP4 of audio only
    ],
    ids=[
        "html-as-mp4", "webm-as-mp4", "mp4-as-webm", "webm-as-avi", "html-as-mov", "avi-as-mkv",
        "exe", "svg", "no-ext", "empty", "audio-only",
    ],
)  # fmt: skip
def test_a_bad_upload_is_refused_and_leaves_nothing(
    app, editor, lesson_id, video_bytes, tmp_path, name, content, message
):
    if name == "song.mp4":
        content = make_audio_only_mp4(tmp_path / name).read_bytes()
    response = upload(editor, lesson_id, video_bytes if content is None else content, name)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert asset_count(app) == 0
    assert stored_files(app) == []
    assert lesson_and_asset(app, lesson_id)[1] is None


def test_an_upload_without_a_file_is_refused(app, editor, lesson_id):
    response = editor.post(f"/teach/lessons/{lesson_id}/video", {}, **MULTIPART)
    assert response.status_code == 400
    assert "Choose a video file to upload." in response.get_data(as_text=True)
    assert asset_count(app) == 0


TRAVERSAL = ["../../evil.webm", "/tmp/evil.webm", "a/../../../evil.webm"]  # noqa: S108


@pytest.mark.parametrize("name", TRAVERSAL)
def test_a_path_in_the_filename_never_leaves_the_store(
    app, editor, lesson_id, video_bytes, tmp_path, name
):
    response = upload(editor, lesson_id, video_bytes, name)
    assert response.status_code in (302, 400)
    root = Path(app.config["MEDIA_ROOT"]).resolve()
    outside = [p for p in tmp_path.parent.rglob("evil*") if root not in p.resolve().parents]
    assert outside == []
    assert not (Path(tempfile.gettempdir()) / "evil.webm").exists()
    for path in stored_files(app):
        assert "evil" not in path.name
        assert root in path.resolve().parents
    with app.app_context():
        for asset in db.session.scalars(db.select(MediaAsset)):
            assert "/" not in asset.original_name and ".." not in asset.original_name
            assert "/" not in asset.storage_key and "evil" not in asset.storage_key
    if response.status_code == 302:
        assert lesson_and_asset(app, lesson_id)[1].original_name == "evil.webm"


def test_an_oversize_upload_is_413(make_app, app, editor, trainer, lesson_id):
    small = make_app(sync=False, MAX_VIDEO_UPLOAD_LENGTH=100_000)
    client = logged_in(small, trainer.email)
    response = upload(client, lesson_id, ebml_garbage(150_000), "big.webm")
    assert response.status_code == 413
    assert asset_count(app) == 0
    assert stored_files(app) == []


def test_an_upload_without_the_csrf_token_is_refused(app, editor, lesson_id, video_bytes):
    response = editor.post(
        f"/teach/lessons/{lesson_id}/video",
        {"video": (io.BytesIO(video_bytes), "lecture.webm")},
        csrf=False,
        **MULTIPART,
    )
    assert response.status_code == 400
    assert "The form expired or came from elsewhere." in response.get_data(as_text=True)
    assert asset_count(app) == 0
    assert stored_files(app) == []


def test_garbage_that_looks_like_webm_is_refused_at_once(app, editor, lesson_id):
    """The first bytes pass the sniffing, but PyAV finds no video: 400, nothing kept."""
    response = upload(editor, lesson_id, ebml_garbage(20_000), "broken.webm")
    assert response.status_code == 400
    assert "The file is not a readable video." in response.get_data(as_text=True)
    assert asset_count(app) == 0
    assert stored_files(app) == []
    assert lesson_and_asset(app, lesson_id)[1] is None


def test_the_library_refuses_what_lessons_refuse(app, editor):
    response = editor.post("/teach/media", {"video": (io.BytesIO(HTML), "x.mp4")}, **MULTIPART)
    assert response.status_code == 400
    assert "is not a video of the type its name says" in response.get_data(as_text=True)
    assert asset_count(app) == 0 and stored_files(app) == []


# -- captions --------------------------------------------------------------------------


@pytest.fixture
def ready_lesson(app, lesson_id, demo_video) -> int:
    """The video lesson with the demo video attached (ready)."""
    with app.app_context():
        asset, _created = media.import_file(demo_video)
        db.session.get(Lesson, lesson_id).media = asset
        db.session.commit()
    return lesson_id


def post_captions(client: Client, lesson_id: int, content: bytes, language: str = "en"):
    data = {"language": language, "captions": (io.BytesIO(content), f"{language}.vtt")}
    return client.post(f"/teach/lessons/{lesson_id}/captions", data, **MULTIPART)


def test_captions_are_stored_served_and_tracked(
    app, editor, student, course, ready_lesson, other_learner
):
    response = post_captions(editor, ready_lesson, VTT)
    assert response.status_code == 302
    assert "Captions saved." in editor.get(response.location).get_data(as_text=True)
    url = f"/media/lessons/{ready_lesson}/captions/en.vtt"

    served = student.get(url)
    assert served.status_code == 200
    assert served.mimetype == "text/vtt"
    assert served.get_data(as_text=True).startswith("WEBVTT")
    assert "Hello, park!" in served.get_data(as_text=True)
    assert "no-store" in served.headers["Cache-Control"]
    assert student.get(f"/media/lessons/{ready_lesson}/captions/zh_CN.vtt").status_code == 404

    page = lesson_page(student, course, ready_lesson, app)
    assert f'<track kind="captions" src="{url}" srclang="en" label="English" default>' in page

    assert logged_in(app, other_learner.email).get(url).status_code == 404  # not enrolled
    anonymous = Client(app.test_client()).get(url)
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    assert editor.get(url).status_code == 200  # the course's editors may check them


def test_new_captions_replace_the_old_ones(app, editor, student, ready_lesson):
    assert post_captions(editor, ready_lesson, VTT).status_code == 302
    replacement = b"WEBVTT\n\n00:00.000 --> 00:02.000\nSecond version\n"
    assert post_captions(editor, ready_lesson, replacement).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Caption.id))) == 1
    caption_files = list((Path(app.config["MEDIA_ROOT"]) / "captions").iterdir())
    assert len(caption_files) == 1
    text = student.get(f"/media/lessons/{ready_lesson}/captions/en.vtt").get_data(as_text=True)
    assert "Second version" in text and "Hello" not in text


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"00:00:00.000 --> 00:00:01.000\nHi\n", "en.vtt", "its first line must be WEBVTT"),
        (b"WEBVTTX\n\n00:00.000 --> 00:01.000\nHi\n", "en.vtt", "its first line must be WEBVTT"),
        (b"WEBVTT\n\n00:00 --> 00:01\nHi\n", "en.vtt", "This cue timing is not valid WebVTT"),
        (
            b"WEBVTT\n\n00:00.000 -> 00:01.000\nHi\n00:61.000 --> 00:62.000\n",
            "en.vtt",
            "This cue timing is not valid",
        ),
        (
            b"WEBVTT\n\n00:00.000 --> 00:01.000\n" + "caf\u00e9".encode("latin-1"),
            "en.vtt",
            "The caption file must be UTF-8 text.",
        ),
        (b"WEBVTT\n\nNOTE nothing to say\n", "en.vtt", "The caption file has no cues"),
        (b"", "en.vtt", "its first line must be WEBVTT"),
        (VTT, "en.srt", "Only WebVTT (.vtt) caption files are accepted."),
    ],
    ids=["no-header", "bad-header", "bad-timing", "bad-cues", "latin-1", "no-cues", "empty", "srt"],
)
def test_invalid_captions_are_refused(app, editor, ready_lesson, content, name, message):
    data = {"language": "en", "captions": (io.BytesIO(content), name)}
    response = editor.post(f"/teach/lessons/{ready_lesson}/captions", data, **MULTIPART)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Caption.id))) == 0
    assert not (Path(app.config["MEDIA_ROOT"]) / "captions").exists() or not any(
        (Path(app.config["MEDIA_ROOT"]) / "captions").iterdir()
    )


def test_captions_in_an_unknown_language_are_refused(app, editor, ready_lesson):
    response = post_captions(editor, ready_lesson, VTT, language="fr")
    assert response.status_code == 400
    assert "Not a valid choice." in response.get_data(as_text=True)


# -- the courseware library ------------------------------------------------------------


def test_a_library_video_is_attached_and_detached(app, editor, lesson_id, demo_video):
    with app.app_context():
        asset, _created = media.import_file(demo_video, "Purchased course 01.webm")
        asset_id = asset.id
    page = editor.get(f"/teach/lessons/{lesson_id}").get_data(as_text=True)
    assert "Purchased course 01.webm (0 min)" in page

    response = editor.post(f"/teach/lessons/{lesson_id}/media", {"media": str(asset_id)})
    assert response.status_code == 302
    lesson, attached = lesson_and_asset(app, lesson_id)
    assert attached.id == asset_id and lesson.minutes == 1

    assert editor.post(f"/teach/lessons/{lesson_id}/media", {"media": "0"}).status_code == 302
    assert lesson_and_asset(app, lesson_id)[1] is None
    assert asset_count(app) == 1  # detaching keeps the library's video


@pytest.mark.parametrize("status", ["processing", "failed", "unknown", "text"])
def test_only_ready_library_videos_can_be_attached(app, editor, lesson_id, status):
    with app.app_context():
        asset = MediaAsset(
            storage_key="ab" * 16 + ".webm",
            sha256="0" * 64,
            original_name="pending.webm",
            mime_type="video/webm",
            size_bytes=10,
            status="failed" if status == "failed" else "processing",
        )
        db.session.add(asset)
        db.session.commit()
        value = {"unknown": "999999", "text": "abc"}.get(status, str(asset.id))
    response = editor.post(f"/teach/lessons/{lesson_id}/media", {"media": value})
    assert response.status_code == 400
    assert "Choose a video from the library." in response.get_data(as_text=True)
    assert lesson_and_asset(app, lesson_id)[1] is None


def test_lms_media_import_adds_each_video_once(app, tmp_path, demo_video):
    folder = tmp_path / "courseware"
    (folder / "season 1").mkdir(parents=True)
    (folder / "intro.webm").write_bytes(demo_video.read_bytes())
    make_mp4(folder / "season 1" / "Lesson 2.MP4")
    (folder / "fake.mp4").write_text("<html>not a video</html>")
    (folder / "notes.txt").write_text("ignored")

    def run():
        return app.test_cli_runner().invoke(main, ["media", "import", str(folder)])

    first = run()
    assert first.exit_code == 0, first.output
    assert "added intro.webm" in first.output and "added Lesson 2.MP4" in first.output
    assert "skipped fake.mp4: The file's content is not a video" in first.output
    assert "notes.txt" not in first.output
    assert "2 added, 0 already in the library, 1 skipped" in first.output

    second = run()
    assert second.exit_code == 0, second.output
    assert "known intro.webm" in second.output
    assert "0 added, 2 already in the library, 1 skipped" in second.output

    with app.app_context():
        assets = list(db.session.scalars(db.select(MediaAsset).order_by(MediaAsset.id)))
        assert len(assets) == 2
        assert {a.original_name: a.mime_type for a in assets} == {
            "intro.webm": "video/webm",
            "Lesson 2.MP4": "video/mp4",
        }
        assert all(a.status == "ready" and a.poster_key for a in assets)
        mp4 = next(a for a in assets if a.mime_type == "video/mp4")
        assert mp4.duration_seconds == pytest.approx(1.0, abs=0.2)
        assert mp4.storage_key.endswith(".mp4")
    assert not any("fake" in p.name for p in stored_files(app))


def test_lms_media_import_needs_an_existing_folder(app, tmp_path):
    result = app.test_cli_runner().invoke(main, ["media", "import", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


# -- the Redis job queue ---------------------------------------------------------------


@pytest.fixture
def redis_queue() -> Iterator:
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        unavailable("Redis is not reachable at 127.0.0.1:6379 (needed for the RQ job test)")
    connection.flushdb()
    queue = jobs.queue(REDIS_URL)
    yield queue
    connection.flushdb()
    connection.close()
    queue.connection.close()


def test_with_redis_a_worker_processes_the_upload(
    make_app, app, editor, trainer, lesson_id, video_bytes, redis_queue, monkeypatch
):
    from rq import SimpleWorker

    queued = make_app(sync=False, REDIS_URL=REDIS_URL)
    client = logged_in(queued, trainer.email)
    assert upload(client, lesson_id, video_bytes, "lecture.webm").status_code == 302
    assert lesson_and_asset(app, lesson_id)[1].status == "processing"
    assert redis_queue.count == 1
    job = redis_queue.jobs[0]
    assert job.func_name == "lms.services.jobs.run_job"
    assert job.args[0] == "lms.services.ingest.process"

    monkeypatch.setattr(jobs, "_worker_app", queued)  # the worker uses the test database
    worker = SimpleWorker([redis_queue], connection=redis_queue.connection)
    assert worker.work(burst=True)
    assert redis_queue.count == 0
    asset = lesson_and_asset(app, lesson_id)[1]
    assert asset.status == "ready"
    assert asset.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert asset.poster_key


# -- storage quota -----------------------------------------------------------------------


def use_up(app: Flask, user_id: int, size: int) -> None:
    """Record ``size`` bytes of earlier uploads by ``user_id``."""
    with app.app_context():
        db.session.add(
            MediaAsset(
                storage_key=f"{size:032x}.webm", sha256=f"{size:064x}", original_name="old.webm",
                mime_type="video/webm", size_bytes=size, uploaded_by_id=user_id,
            )
        )  # fmt: skip
        db.session.commit()


@pytest.fixture
def small_quota(make_app, course, trainer) -> Flask:
    """A 1 MiB quota per trainer; the trainer teaches the course."""
    app = make_app(sync=False, JOBS_INLINE=True, UPLOAD_QUOTA_MB=1)
    with app.app_context():
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
    return app


@pytest.mark.parametrize("declared_too_big", [True, False], ids=["declared", "streamed"])
def test_an_upload_past_the_quota_is_413_and_keeps_nothing(
    small_quota, trainer, lesson_id, video_bytes, declared_too_big
):
    # Refused from the request's length alone, or while the file streams to the store.
    missing = 100_000 if declared_too_big else 10
    use_up(small_quota, trainer.id, 1024 * 1024 - len(video_bytes) + missing)
    client = logged_in(small_quota, trainer.email)
    response = upload(client, lesson_id, video_bytes, "lecture.webm")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "does not fit in your storage quota" in page
    assert "of 1.0 MiB" in page
    assert asset_count(small_quota) == 1  # the earlier upload only
    assert stored_files(small_quota) == []
    assert lesson_and_asset(small_quota, lesson_id)[1] is None


def test_an_upload_that_fits_the_quota_is_kept(small_quota, trainer, lesson_id, video_bytes):
    use_up(small_quota, trainer.id, 1024 * 1024 - len(video_bytes))
    client = logged_in(small_quota, trainer.email)
    assert upload(client, lesson_id, video_bytes, "lecture.webm").status_code == 302
    assert lesson_and_asset(small_quota, lesson_id)[1].status == "ready"


def test_organizers_have_no_quota(small_quota, organizer, lesson_id, video_bytes):
    use_up(small_quota, organizer.id, 50 * 1024 * 1024)
    client = logged_in(small_quota, organizer.email)
    assert upload(client, lesson_id, video_bytes, "lecture.webm").status_code == 302


def test_a_quota_of_zero_means_no_limit(make_app, course, trainer, lesson_id, video_bytes):
    app = make_app(sync=False, JOBS_INLINE=True, UPLOAD_QUOTA_MB=0)
    use_up(app, trainer.id, 10**12)
    with app.app_context():
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
    client = logged_in(app, trainer.email)
    assert upload(client, lesson_id, video_bytes, "lecture.webm").status_code == 302
    assert "Your storage" not in client.get("/teach/media").get_data(as_text=True)


def test_the_library_shows_what_the_trainer_uses(small_quota, trainer):
    use_up(small_quota, trainer.id, 512 * 1024)
    page = logged_in(small_quota, trainer.email).get("/teach/media").get_data(as_text=True)
    assert "You use 512.0 KiB of 1.0 MiB." in page
    assert 'value="50"' in page  # the bar


def test_the_quota_setting_must_be_a_number(monkeypatch, app_config):
    from lms import create_app
    from lms.config import ConfigurationError

    monkeypatch.setenv("LMS_UPLOAD_QUOTA_MB", "lots")
    with pytest.raises(ConfigurationError, match="LMS_UPLOAD_QUOTA_MB"):
        create_app(app_config)


# -- downloads from the library ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ascii_name", "full_name"),
    [
        ("lecture.webm", "lecture.webm", "lecture.webm"),
        ("第1讲 战略工具.webm", "1 .webm", "第1讲 战略工具.webm"),
        ('a"b;c\r\nSet-Cookie: x=1.webm',
         "a_b_c_Set-Cookie_ x=1.webm", "a_b_c_Set-Cookie_ x=1.webm"),
        ("<script>alert(1)</script>.webm",
         "script_alert(1)_script.webm", "script_alert(1)_script.webm"),
        ("..\\..\\evil.webm", "evil.webm", "evil.webm"),
        ("名字", "", "名字"),
        ("Ünïcödé.webm", "Unicode.webm", "Ünïcödé.webm"),
    ],
)  # fmt: skip
def test_a_library_video_downloads_under_a_safe_name(
    app, editor, demo_video, name, ascii_name, full_name
):
    from urllib.parse import unquote

    with app.app_context():
        asset, _ = media.import_file(demo_video)
        asset.original_name = name
        db.session.commit()
        asset_id = asset.id
    response = editor.get(f"/teach/media/{asset_id}/download")
    assert response.status_code == 200
    assert response.get_data() == demo_video.read_bytes()
    assert response.headers["Content-Type"] == "video/webm"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    disposition.encode("ascii")
    assert "\r" not in disposition and "\n" not in disposition
    # Werkzeug's send_file: the ASCII ``filename`` for old clients, RFC 5987's ``filename*``
    # when the name is not ASCII.
    plain = disposition.removeprefix("attachment; filename=").split("; filename*=")[0]
    assert plain.strip('"') == ascii_name
    shown = disposition.split("filename*=UTF-8''")[1] if "filename*=" in disposition else plain
    assert unquote(shown).strip('"') == full_name


def test_only_trainers_download_library_videos(app, student, demo_video):
    with app.app_context():
        asset, _ = media.import_file(demo_video)
        asset_id = asset.id
    assert student.get(f"/teach/media/{asset_id}/download").status_code == 403


def test_refusals_speak_the_trainers_language(app, editor, lesson_id):
    html = b"<!doctype html><title>x</title>" + b" " * 100
    zh = editor.post(
        f"/teach/lessons/{lesson_id}/video",
        {"video": (io.BytesIO(html), "lecture.mp4")},
        headers={"Accept-Language": "zh-CN"},
        **MULTIPART,
    )
    assert zh.status_code == 400
    assert "文件内容与其扩展名所示的视频类型不符" in zh.get_data(as_text=True)
