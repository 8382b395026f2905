from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from lms.extensions import db
from lms.models import Course, MediaAsset
from lms.services import media
from tests.conftest import Client, course_url, video_lessons_of, without_csrf


def test_probe_reads_the_facts_from_the_file(demo_video):
    facts = media.probe(demo_video)
    assert facts.mime_type == "video/webm"
    assert facts.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert (facts.width, facts.height) == (320, 180)
    assert (facts.video_codec, facts.audio_codec) == ("vp8", "opus")


def test_a_renamed_text_file_is_not_a_video(tmp_path):
    fake = tmp_path / "lecture.mp4"
    fake.write_text("<html><script>alert(1)</script></html>")
    with pytest.raises(media.MediaError):
        media.probe(fake)


def test_import_stores_under_a_generated_name_once(app_ctx, demo_video):
    asset, created = media.import_file(demo_video, "../../etc/passwd.webm")
    db.session.commit()
    again, created_again = media.import_file(demo_video)
    assert created and not created_again and again.id == asset.id
    stored = media.storage_path(asset)
    assert stored.is_file() and stored.name == asset.storage_key
    assert "passwd" not in str(stored)
    assert Path(app_ctx.config["MEDIA_ROOT"]) in stored.parents


@pytest.fixture
def video_lesson(app, course, demo_video):
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        asset, _ = media.import_file(demo_video)
        lesson.media = asset
        db.session.commit()
        db.session.refresh(lesson)
        db.session.expunge_all()
        return lesson


def test_enrolled_learner_streams_the_video_with_ranges(client, learner, course, video_lesson):
    """The lesson's URL plays its best web rendition (H.264/AAC in MP4), not the upload."""
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    url = f"/media/lessons/{video_lesson.id}"
    full = client.get(url)
    assert full.status_code == 200
    assert full.mimetype == "video/mp4"
    assert full.data[4:8] == b"ftyp" and full.data[32:40].endswith(b"moov")  # faststart
    assert full.headers["Accept-Ranges"] == "bytes"
    size = len(full.data)
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert part.data == full.data[:100]
    beyond = client.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416


def test_lesson_page_plays_the_video(client, learner, course, video_lesson):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    page = client.get(course_url(course) + f"lessons/{video_lesson.slug}").get_data(as_text=True)
    # The player picks HLS or the MP4 renditions (static/js/player.js): both are on the page.
    assert f'data-hls="/media/lessons/{video_lesson.id}/hls/master.m3u8"' in page
    assert f'"src": "/media/lessons/{video_lesson.id}/mp4/' in page
    assert "0:03" in page  # the probed duration, not a typed-in one
    assert "80%" in page  # Startup Growth's own completion threshold


def test_video_is_refused_to_everyone_else(
    client, app, learner, other_learner, trainer, organizer, course, video_lesson
):
    url = f"/media/lessons/{video_lesson.id}"
    assert client.get(url).status_code == 302  # anonymous: log in first
    client.login(other_learner.email)
    not_enrolled = client.get(url)
    unknown = client.get("/media/lessons/999999")
    assert not_enrolled.status_code == unknown.status_code == 404
    assert without_csrf(not_enrolled.data).replace(url.encode(), b"URL") == without_csrf(
        unknown.data
    ).replace(b"/media/lessons/999999", b"URL")
    client.logout()
    client.login(trainer.email)  # a trainer who does not own the course
    assert client.get(url).status_code == 404
    client.logout()
    client.login(organizer.email)
    assert client.get(url).status_code == 200


def test_video_of_a_disabled_camp_is_gone(client, app, learner, course, video_lesson):
    from lms.services import camps

    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    with app.test_request_context():
        camps.set_enabled(course.camp.slug, False)
    assert client.get(f"/media/lessons/{video_lesson.id}").status_code == 404


def test_media_rows_never_expose_the_storage_path(client, learner, course, video_lesson, app):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    page = client.get(course_url(course) + f"lessons/{video_lesson.slug}").get_data(as_text=True)
    with app.app_context():
        key = db.session.scalars(db.select(MediaAsset.storage_key)).one()
    assert key not in page


def test_range_edge_cases(client, learner, course, video_lesson):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    url = f"/media/lessons/{video_lesson.id}"
    full = client.get(url)
    size = len(full.data)
    suffix = client.get(url, headers={"Range": "bytes=-100"})
    assert suffix.status_code == 206
    assert suffix.data == full.data[-100:]
    open_ended = client.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert open_ended.status_code == 206 and len(open_ended.data) == 10
    assert client.get(url, headers={"Range": "bytes=abc"}).status_code in (200, 416)
    assert client.get(url, headers={"Range": "bytes=50-10"}).status_code in (200, 416)


def test_conditional_requests_answer_304(client, learner, course, video_lesson):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    url = f"/media/lessons/{video_lesson.id}"
    etag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def attach_demo_video(app, demo_video: Path) -> tuple[int, str]:
    """The demo video on the first video lesson of the Strategy Toolkit course: (lesson id,
    the file its lesson URL plays, under the media store: its best web rendition)."""
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="strategy-toolkit"))
        lesson = video_lessons_of(course.id)[0]
        asset, _ = media.import_file(demo_video)
        lesson.media = asset
        db.session.commit()
        return lesson.id, f"streams/{asset.stream_dir}/{asset.renditions[-1]['file']}"


@dataclass
class BehindNginx:
    app: Flask
    lesson_id: int
    key: str
    viewer: Client  # enrolled in the course
    stranger: Client


@pytest.fixture
def behind_nginx(make_app, make_user, demo_video) -> BehindNginx:
    """An app configured for nginx (X-Accel-Redirect), an enrolled viewer and a stranger."""
    app = make_app(MEDIA_ACCEL_REDIRECT="/protected-media/")
    lesson_id, key = attach_demo_video(app, demo_video)
    make_user("viewer@example.com")
    make_user("stranger@example.com")
    viewer, stranger = Client(app.test_client()), Client(app.test_client())
    viewer.login("viewer@example.com")
    viewer.post("/camps/startup-growth/strategy-toolkit/enroll")
    stranger.login("stranger@example.com")
    return BehindNginx(app, lesson_id, key, viewer, stranger)


def test_behind_nginx_the_app_only_authorizes(behind_nginx):
    site, url = behind_nginx, f"/media/lessons/{behind_nginx.lesson_id}"
    response = site.viewer.get(url)
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == f"/protected-media/{site.key}"
    assert response.data == b""
    refused = site.stranger.get(url)
    assert refused.status_code == 404 and "X-Accel-Redirect" not in refused.headers


def test_nginx_asks_the_app_who_may_watch(behind_nginx):
    site, url = behind_nginx, f"/media/lessons/{behind_nginx.lesson_id}/authorize"
    answer = site.viewer.get(url)
    assert answer.status_code == 200 and answer.data == b""
    assert answer.headers["X-Media-File"] == site.key
    assert answer.headers["X-Media-Streams"] == site.key.rpartition("/")[0]
    # auth_request knows 2xx, 401 and 403 only: a refusal is never a 404 or a redirect.
    assert Client(site.app.test_client()).get(url).status_code == 401
    for refused in (site.stranger.get(url), site.viewer.get("/media/lessons/999999/authorize")):
        assert refused.status_code == 403 and "X-Media-File" not in refused.headers


def test_without_nginx_there_is_nobody_to_answer(client, learner):
    client.login(learner.email)
    assert client.get("/media/lessons/1/authorize").status_code == 404
