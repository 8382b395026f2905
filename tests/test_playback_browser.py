"""Real-browser playback: every kind of upload plays in Debian Chromium, in every player mode.

Each test sends a video through the ingest pipeline (``media.import_file``), attaches it to the
course's video lessons and plays it in Chromium past 30 s at a raised rate, with no
``MediaError``. The videos are made here with PyAV: small in pixels, 40 s long, with
speech-like audio interleaved with the video unless a test wants it otherwise.
"""

from __future__ import annotations

import array
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import pytest
from flask import Flask, url_for

from lms.extensions import db
from lms.models import Course, Lesson, LessonProgress, MediaAsset, Module
from lms.services import demo, media, uploads
from lms.services.loading import load_path
from tests.conftest import video_lessons_of
from tests.test_browser import (
    RECORD_CSP,
    TIMEOUT_MS,
    chromium_browser,  # noqa: F401 - the ``browser`` fixture
    enroll,
    log_in,
    serving,
    wait_until,
)

pytestmark = pytest.mark.browser


def record_reports(page) -> list[dict]:
    """The bodies of the progress reports the page sends, as they are sent."""
    reports: list[dict] = []
    page.on(
        "request",
        lambda r: (
            r.url.endswith("/progress") and r.method == "POST" and reports.append(r.post_data_json)
        ),
    )
    return reports


SECONDS = 40
PLAY_TO = 30.0
RATE = 8  # Chromium plays up to 16×; 8× reaches 30 s in about 4 s
PLAY_TIMEOUT = 60.0  # a busy machine: generous, a stuck player still fails

# Recorded in every page: media errors of the <video>, whatever raised them.
RECORD_MEDIA_ERRORS = """
window.__mediaErrors = [];
document.addEventListener('error', (e) => {
  const t = e.target;
  if (t && t.tagName === 'VIDEO' && t.error) {
    window.__mediaErrors.push(`${t.error.code} ${t.error.message}`);
  }
}, true);
"""
VIDEO = "document.getElementById('player')"

# name → how it is made: (container, video codec, audio codec, (width, height), extra options)
UPLOADS: dict[str, dict] = {
    "iphone-hevc.mov": {"container": "mov", "video": "libx265", "audio": "aac"},
    "index-at-the-end.mp4": {"container": "mp4", "video": "libx264", "audio": "aac"},
    "audio-after-video.mp4": {
        "container": "mp4",
        "video": "libx264",
        "audio": "aac",
        "interleaved": False,
    },
    "portrait-phone.mp4": {"container": "mp4", "video": "libx264", "audio": "aac", "rotation": 90},
    "odd-size-vp9.webm": {
        "container": "webm",
        "video": "libvpx-vp9",
        "audio": "libopus",
        "size": (321, 181),
    },
    "hd-720p.mp4": {"container": "mp4", "video": "libx264", "audio": "aac", "size": (1280, 720)},
}
ENCODER_OPTIONS = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}


def _picture(width: int, height: int, index: int, frames: int) -> av.VideoFrame:
    """A coloured card whose shade changes every frame, with a growing progress bar."""
    frame = av.VideoFrame(width, height, "rgb24")
    line = frame.planes[0].line_size
    shade = bytes((30 + (index * 7) % 120, 60, 160))
    filled = width * (index + 1) // frames
    plain = (shade * width).ljust(line, b"\0")
    marked = (b"\xff\xff\xff" * filled + shade * (width - filled)).ljust(line, b"\0")
    top = height * 3 // 4
    band = range(top, top + max(2, height // 12))
    frame.planes[0].update(b"".join(marked if row in band else plain for row in range(height)))
    frame.pts = index
    return frame


def _syllables(rate: int, start: int, count: int) -> bytes:
    """Speech-like sound: a 220 Hz voice in four syllables a second."""
    return array.array(
        "f",
        (
            0.2
            * max(0.0, math.sin(2 * math.pi * 4 * (start + k) / rate))
            * math.sin(2 * math.pi * 220 * (start + k) / rate)
            for k in range(count)
        ),
    ).tobytes()


def make_video(
    path: Path,
    *,
    container: str,
    video: str,
    audio: str,
    size: tuple[int, int] = (320, 180),
    seconds: int = SECONDS,
    fps: int = 10,
    interleaved: bool = True,
    rotation: int | None = None,
) -> Path:
    """Encode a test upload with PyAV.

    ``interleaved=False`` writes every video packet before the first audio packet (the muxer
    flushes at once instead of interleaving); ``rotation`` stores a display matrix, as phones do.
    """
    width, height = size
    options = {} if interleaved else {"max_interleave_delta": "1"}
    with av.open(str(path), "w", format=container, options=options) as output:
        video_stream = output.add_stream(video, rate=fps)
        video_stream.width, video_stream.height, video_stream.pix_fmt = width, height, "yuv420p"
        video_stream.options = ENCODER_OPTIONS[video]
        if rotation is not None:
            video_stream.set_display_rotation(rotation)
        rate = 48_000
        audio_stream = output.add_stream(audio, rate=rate)
        audio_stream.layout = "mono"
        chunk = 960 if audio == "libopus" else 1024
        held_back: list[av.Packet] = []
        sample = 0
        frames = seconds * fps
        for index in range(frames):
            packets = list(video_stream.encode(_picture(width, height, index, frames)))
            while sample < (index + 1) * rate // fps:
                sound = av.AudioFrame(format="flt", layout="mono", samples=chunk)
                sound.planes[0].update(_syllables(rate, sample, chunk))
                sound.sample_rate, sound.pts, sound.time_base = rate, sample, Fraction(1, rate)
                sample += chunk
                (packets if interleaved else held_back).extend(audio_stream.encode(sound))
            output.mux(packets)
        output.mux(list(video_stream.encode(None)))
        output.mux(held_back)
        output.mux(list(audio_stream.encode(None)))
    return path


@pytest.fixture(scope="session")
def upload(tmp_path_factory) -> Callable[[str], Path]:
    """The test upload called ``name`` (see UPLOADS), encoded once per session."""
    folder = tmp_path_factory.mktemp("uploads")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = make_video(folder / name, **UPLOADS[name])
        return made[name]

    return get


def test_the_fixtures_are_what_they_claim(upload):
    """The uploads really have the problems the browser tests are about."""
    with av.open(str(upload("iphone-hevc.mov"))) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    with open(upload("index-at-the-end.mp4"), "rb") as handle:
        assert b"moov" not in handle.read(64 * 1024)  # the index comes after the media data
    with av.open(str(upload("audio-after-video.mp4"))) as container:
        positions = {"video": [], "audio": []}
        for packet in container.demux():
            if packet.size and packet.pos is not None:
                positions[packet.stream.type].append(packet.pos)
    # Every video packet but the encoder's last one is stored before the first audio packet.
    assert sorted(positions["video"])[-2] < min(positions["audio"])
    with av.open(str(upload("portrait-phone.mp4"))) as container:
        assert abs(next(container.decode(video=0)).rotation) == 90
    with av.open(str(upload("odd-size-vp9.webm"))) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.width % 2, context.height % 2) == ("vp9", 1, 1)
        assert container.duration / av.time_base >= PLAY_TO


# --- the app in a browser ----------------------------------------------------------------------


def attach(app: Flask, course: Course, path: Path) -> tuple[MediaAsset, str]:
    """Import ``path`` through the pipeline onto the course's video lessons; the first's URL."""
    with app.app_context():
        asset, _created = media.import_file(path)
        assert asset.status == "ready", asset.error
        assert asset.renditions, "the pipeline made no web renditions"
        lessons = video_lessons_of(course.id)
        for lesson in lessons:
            lesson.media = asset
        db.session.commit()
        with app.test_request_context():
            url = lesson_url(lessons[0])
        db.session.refresh(asset)
        db.session.expunge(asset)
        db.session.remove()
    return asset, url


def lesson_url(lesson: Lesson) -> str:
    load_path(lesson, "module", "course", "camp")
    course = lesson.module.course
    return url_for(
        "learn.lesson", camp_slug=course.camp.slug, course_slug=course.slug, lesson_slug=lesson.slug
    )


@contextmanager
def browser_page(browser, base_url: str, locale: str = "en-US", **options) -> Iterator:
    context = browser.new_context(base_url=base_url, locale=locale, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_CSP)
    context.add_init_script(RECORD_MEDIA_ERRORS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.problems = problems
    try:
        yield page
    finally:
        context.close()


def open_player(page, url: str, mode: str | None = None) -> None:
    page.goto(f"{url}?player={mode}" if mode else url)
    wait_until(page, f"{VIDEO} && {VIDEO}.readyState >= 1")


def play_past(page, seconds: float = PLAY_TO, rate: float = RATE) -> float:
    """Play (muted) at ``rate`` until ``seconds`` or the end; the time reached."""
    page.evaluate(f"{VIDEO}.muted = true; {VIDEO}.playbackRate = {rate}; {VIDEO}.play()")
    target = f"Math.min({seconds}, {VIDEO}.duration - 0.5)"
    wait_until(page, f"{VIDEO}.currentTime >= {target} || {VIDEO}.ended", timeout=PLAY_TIMEOUT)
    return page.evaluate(f"{VIDEO}.currentTime")


def assert_played_cleanly(page) -> None:
    assert page.evaluate(f"{VIDEO}.error") is None
    assert page.evaluate("window.__mediaErrors") == []
    assert page.evaluate("window.__csp") == []
    assert page.problems == []
    assert page.locator("#player-error").is_hidden()


# --- every kind of upload plays -------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in UPLOADS if n != "hd-720p.mp4"])
def test_every_kind_of_upload_plays_past_30_seconds(browser, app, course, organizer, upload, name):
    _asset, url = attach(app, course, upload(name))
    with serving(app) as base, browser_page(browser, base) as page:
        log_in(page, organizer.email)
        open_player(page, url)
        assert page.evaluate(f"{VIDEO}.dataset.mode") == "hlsjs"
        assert play_past(page) >= PLAY_TO
        assert_played_cleanly(page)
        width, height = page.evaluate(f"[{VIDEO}.videoWidth, {VIDEO}.videoHeight]")
    assert width % 2 == 0 and height % 2 == 0
    if name == "portrait-phone.mp4":
        assert height > width  # the rotation is applied to the pixels
    else:
        assert width > height


@pytest.mark.parametrize("mode", ["hlsjs", "native", "mp4"])
def test_each_player_mode_plays_past_30_seconds(browser, app, course, organizer, upload, mode):
    """hls.js, the browser's own HLS (Chromium has it too) and the progressive MP4 fallback."""
    _asset, url = attach(app, course, upload("hd-720p.mp4"))
    fetched: list[tuple[str, int]] = []
    with serving(app) as base, browser_page(browser, base) as page:
        page.on(
            "response", lambda r: "/media/lessons/" in r.url and fetched.append((r.url, r.status))
        )
        log_in(page, organizer.email)
        open_player(page, url, mode)
        assert page.evaluate(f"{VIDEO}.dataset.mode") == mode
        assert play_past(page) >= PLAY_TO
        assert_played_cleanly(page)
    assert fetched and all(status in (200, 206) for _url, status in fetched), fetched
    segments = [u for u, _s in fetched if u.endswith(".m4s")]
    progressive = [u for u, _s in fetched if "/mp4/" in u]
    if mode == "mp4":
        assert progressive and not segments
    else:
        assert segments and not progressive


@pytest.mark.parametrize("mode", ["hlsjs", "native", "mp4"])
def test_the_quality_menu_switches_without_losing_the_place(
    browser, app, course, organizer, upload, mode
):
    _asset, url = attach(app, course, upload("hd-720p.mp4"))
    with serving(app) as base, browser_page(browser, base) as page:
        log_in(page, organizer.email)
        open_player(page, url, mode)
        menu = page.locator("#player-quality")
        assert menu.is_visible()
        assert menu.locator("option").all_inner_texts()[1:] == ["720p", "360p"]
        before = play_past(page, 8, rate=2)
        for height in (360, 720):
            menu.select_option(str(height))
            wait_until(page, f"{VIDEO}.videoHeight === {height} && {VIDEO}.currentTime > {before}")
            assert not page.evaluate(f"{VIDEO}.paused")
            before = page.evaluate(f"{VIDEO}.currentTime")
        if mode != "hlsjs":
            assert page.evaluate(f"{VIDEO}.currentSrc").endswith("/mp4/720.mp4")
        menu.select_option("auto")
        wait_until(page, f"{VIDEO}.currentTime > {before} + 1")
        assert page.evaluate(f"{VIDEO}.playbackRate") == 2  # the speed survives a new source
        if mode != "mp4":
            assert page.evaluate(f"{VIDEO}.dataset.mode") == mode
        assert_played_cleanly(page)


def test_when_hls_fails_the_player_goes_on_with_the_mp4_renditions(
    browser, app, course, organizer, upload
):
    _asset, url = attach(app, course, upload("index-at-the-end.mp4"))
    with serving(app) as base, browser_page(browser, base) as page:
        page.route("**/hls/*/index.m3u8", lambda route: route.abort())  # variants unreachable
        log_in(page, organizer.email)
        page.goto(url)
        wait_until(page, f"{VIDEO}.dataset.mode === 'mp4' && {VIDEO}.readyState >= 1")
        assert play_past(page, 10, rate=4) >= 10
        assert "/mp4/" in page.evaluate(f"{VIDEO}.currentSrc")
        assert page.locator("#player-error").is_hidden()
        assert page.evaluate(f"{VIDEO}.error") is None


def test_every_demo_video_plays_past_30_seconds(browser, app, organizer):
    """`lms demo` sends its generated lectures through the same pipeline; each one plays."""
    with app.app_context():
        demo.install_demo()
        lessons = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .where(Lesson.media_id.is_not(None))
            .order_by(Lesson.media_id, Lesson.id)
        ).all()
        first_of_asset = {lesson.media_id: lesson for lesson in reversed(lessons)}
        with app.test_request_context():
            urls = {asset_id: lesson_url(lesson) for asset_id, lesson in first_of_asset.items()}
        durations = {a.id: a.duration_seconds for a in db.session.scalars(db.select(MediaAsset))}
    assert len(urls) >= 3
    with serving(app) as base, browser_page(browser, base) as page:
        log_in(page, organizer.email)
        for asset_id, url in sorted(urls.items()):
            open_player(page, url)
            reached = play_past(page)
            assert reached >= min(PLAY_TO, durations[asset_id] - 1), (url, reached)
            assert_played_cleanly(page)


# --- the learner's controls, in every mode ---------------------------------------------------


@pytest.mark.parametrize("mode", ["hlsjs", "native", "mp4"])
def test_resume_speed_captions_and_keys_work_in_every_mode(
    browser, app, course, learner, upload, mode
):
    _asset, url = attach(app, course, upload("index-at-the-end.mp4"))
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        cue = "WEBVTT\n\n00:00.000 --> 00:40.000\nHello\n"
        uploads.attach_caption(lesson, "en", "English", cue.encode())
    with serving(app) as base, browser_page(browser, base) as page:
        reports = record_reports(page)
        log_in(page, learner.email)
        enroll(page, course)
        open_player(page, url, mode)
        page.evaluate(f"{VIDEO}.muted = true")
        page.focus("#player-shell")

        page.keyboard.press("k")
        wait_until(page, f"!{VIDEO}.paused && {VIDEO}.currentTime > 0.5")
        page.keyboard.press(">")
        assert page.evaluate(f"{VIDEO}.playbackRate") == 1.25
        wait_until(page, "document.getElementById('player-speed').value === '1.25'")
        page.keyboard.press("l")
        wait_until(page, f"{VIDEO}.currentTime >= 10")
        page.keyboard.press("c")
        assert page.evaluate(f"{VIDEO}.textTracks[0].mode") in ("showing", "hidden")
        shown = page.evaluate(f"{VIDEO}.textTracks[0].mode")
        page.keyboard.press("c")
        assert page.evaluate(f"{VIDEO}.textTracks[0].mode") != shown

        warning = page.locator("#player-rate-warning")
        assert warning.is_hidden()
        page.select_option("#player-speed", "3")
        assert warning.is_visible()
        assert "2×" in warning.inner_text()
        page.select_option("#player-speed", "2")
        assert warning.is_hidden()

        wait_until(page, f"{VIDEO}.currentTime >= 14")
        with page.expect_response(lambda r: r.url.endswith("/progress")) as reply:
            page.keyboard.press("k")
        assert reply.value.status == 200
        position = page.evaluate(f"{VIDEO}.currentTime")
        assert reports and reports[-1]["position"] == pytest.approx(position, abs=0.3)
        assert "played_seconds" in reports[-1]

        page.reload()
        wait_until(page, f"{VIDEO}.readyState >= 1 && {VIDEO}.currentTime > 1")
        assert page.evaluate(f"{VIDEO}.currentTime") == pytest.approx(position, abs=0.5)
        assert page.evaluate(f"{VIDEO}.dataset.mode") == mode
        assert_played_cleanly(page)


def test_played_seconds_count_playing_time_not_pauses(browser, app, course, learner, upload):
    _asset, url = attach(app, course, upload("index-at-the-end.mp4"))
    with serving(app) as base, browser_page(browser, base) as page:
        reports = record_reports(page)
        log_in(page, learner.email)
        enroll(page, course)
        open_player(page, url)
        page.wait_for_timeout(2000)  # paused: earns nothing
        started = time.monotonic()
        play_past(page, 8, rate=4)
        page.evaluate(f"{VIDEO}.pause()")
        playing = time.monotonic() - started
        page.wait_for_timeout(1500)  # paused again
        page.evaluate(f"{VIDEO}.play()")
        play_past(page, 12, rate=4)
        with page.expect_response(lambda r: r.url.endswith("/progress")):
            page.evaluate(f"{VIDEO}.pause()")
    first, last = reports[0]["played_seconds"], reports[-1]["played_seconds"]
    assert 1.0 <= first <= playing + 0.2  # about 8 s of video at 4×, nothing of the pause
    assert last >= first  # monotone
    assert last <= playing + (12 - 8) / 4 + 1.0


def test_hiding_or_leaving_the_page_reports_what_was_played(browser, app, course, learner, upload):
    """Between the 10-second reports, a hidden tab and a closed one send the last seconds."""
    _asset, url = attach(app, course, upload("index-at-the-end.mp4"))
    sent: list[str] = []
    hide = (
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    with serving(app) as base, browser_page(browser, base) as page:
        page.on("request", lambda r: r.url.endswith("/progress") and sent.append(r.url))
        log_in(page, learner.email)
        enroll(page, course)
        open_player(page, url)
        play_past(page, 4, rate=2)
        assert sent == []  # less than 10 s since the session opened: no report yet
        with page.expect_request(lambda r: r.url.endswith("/progress")):
            page.evaluate(hide)
        page.evaluate("delete document.hidden")
        play_past(page, 8, rate=2)
        page.close()  # pagehide: the last report leaves with fetch keepalive
        deadline = time.monotonic() + 10
        while True:
            with app.app_context():
                row = db.session.scalars(db.select(LessonProgress)).one_or_none()
                covered = row.covered_seconds if row is not None else 0
            if covered >= 7 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert covered >= 7  # the hidden tab's report had about 4 s: the rest came on leaving


def test_seek_bar_previews_thumbnails_and_seeks(browser, app, course, organizer, upload):
    asset, url = attach(app, course, upload("index-at-the-end.mp4"))
    assert asset.has_thumbnails
    sprites: list[int] = []
    with serving(app) as base, browser_page(browser, base) as page:
        page.on("response", lambda r: r.url.endswith(".jpg") and sprites.append(r.status))
        log_in(page, organizer.email)
        open_player(page, url)
        seek = page.locator("#player-seek")
        seek.wait_for(state="visible")
        box = seek.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        preview = page.locator("#player-preview")
        preview.wait_for(state="visible")
        assert page.inner_text(".player-preview-time") == "0:20"
        image = page.evaluate(
            "getComputedStyle(document.querySelector('.player-preview-image')).backgroundImage"
        )
        assert "/media/lessons/" in image and ".jpg" in image
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
        wait_until(page, f"Math.abs({VIDEO}.currentTime - 30) < 1")
        assert_played_cleanly(page)
    assert sprites and set(sprites) == {200}


def test_the_player_fits_a_phone_in_chinese(browser, app, course, organizer, upload):
    _asset, url = attach(app, course, upload("hd-720p.mp4"))
    phone = {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    }
    with serving(app) as base, browser_page(browser, base, locale="zh-CN", **phone) as page:
        log_in(page, organizer.email)
        open_player(page, url)
        assert page.inner_text("#player-quality-label").startswith("清晰度")
        assert play_past(page, 10, rate=4) >= 10
        assert page.inner_text("#player-quality option[value=auto]").startswith("自动")
        page.select_option("#player-speed", "3")
        assert "2× 倍速" in page.inner_text("#player-rate-warning")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        for selector in ("#player", "#player-quality", "#player-speed", "#player-seek"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        assert_played_cleanly(page)
