"""``lms backup`` / ``lms restore``: consistent SQLite snapshots plus media, safe restores."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from lms import create_app
from lms.backup import BackupError, create_backup, read_archive, restore_backup
from lms.cli import main
from lms.extensions import db
from lms.models import Course, Enrollment, User
from lms.services import accounts
from lms.services import camps as camp_service
from tests.conftest import PASSWORD


def sqlite_app(app_config: dict, folder: Path) -> Flask:
    """An app on a SQLite file in ``folder`` whatever LMS_DATABASE_URL says (backups are
    for the embedded default)."""
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(
        {
            **app_config,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'lms.sqlite3'}",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "MEDIA_ROOT": str(folder / "media"),
        }
    )
    return app


@pytest.fixture
def apps(app_config: dict, tmp_path: Path) -> Iterator:
    made: list[Flask] = []

    def factory(name: str, schema: bool = True) -> Flask:
        app = sqlite_app(app_config, tmp_path / name)
        if schema:
            with app.app_context():
                db.create_all()
                camp_service.sync()
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def source(apps) -> Flask:
    """An instance with learners, enrollments and media files."""
    app = apps("source")
    with app.app_context():
        courses = db.session.scalars(db.select(Course).where(Course.status == "published")).all()
        for number in range(5):
            user = accounts.create_user(f"learner{number}@example.com", f"L{number}", PASSWORD)
            for course in courses[: number + 1]:
                db.session.add(Enrollment(user_id=user.id, course_id=course.id))
            db.session.commit()
        media = Path(app.config["MEDIA_ROOT"])
        (media / "ab").mkdir(parents=True)
        (media / "ab" / "abcdef.webm").write_bytes(bytes(range(256)) * 400)
        (media / "posters").mkdir()
        (media / "posters" / "p.jpg").write_bytes(b"\xff\xd8poster")
        (media / "incoming.upload").write_bytes(b"half an upload")
    return app


def people(app: Flask) -> tuple[list[str], list[tuple[str, int]]]:
    with app.app_context():
        emails = sorted(db.session.scalars(db.select(User.email)))
        pairs = sorted(
            tuple(row)
            for row in db.session.execute(
                db.select(User.email, Enrollment.course_id).join(
                    Enrollment, Enrollment.user_id == User.id
                )
            )
        )
        return emails, pairs


def media_digests(app: Flask) -> dict[str, str]:
    root = Path(app.config["MEDIA_ROOT"])
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_backup_and_restore_round_trip(source, apps, tmp_path):
    archive = tmp_path / "out" / "backup.tar.gz"
    with source.app_context():
        path, manifest = create_backup(archive)
    assert path == archive and archive.stat().st_mode & 0o077 == 0
    assert manifest["counts"]["users"] == 5 and manifest["counts"]["enrollments"] > 5
    assert manifest["media"] == {"files": 2, "bytes": 256 * 400 + 8}
    assert manifest["engine"] == "sqlite" and manifest["format"] == 1

    target = apps("target", schema=False)
    with target.app_context():
        report = restore_backup(archive)
    assert report.media_files == 2
    assert people(target) == people(source)
    expected = {k: v for k, v in media_digests(source).items() if not k.endswith(".upload")}
    assert media_digests(target) == expected
    with target.app_context():  # the restored instance works: log in, see the enrollments
        assert accounts.authenticate("learner4@example.com", PASSWORD) is not None


def test_the_cli_backs_up_and_restores(source, apps, tmp_path):
    archive = tmp_path / "cli.tar.gz"
    result = source.test_cli_runner().invoke(main, ["backup", "--output", str(archive)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {archive}: 5 users" in result.output
    target = apps("target", schema=False)
    result = target.test_cli_runner().invoke(main, ["restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert "5 users" in result.output and "2 media files" in result.output
    assert people(target) == people(source)
    # Restoring again would overwrite data: refused without --force.
    result = target.test_cli_runner().invoke(main, ["restore", str(archive)])
    assert result.exit_code == 1
    assert "holds data" in result.output and "--force" in result.output
    result = target.test_cli_runner().invoke(main, ["restore", "--force", str(archive)])
    assert result.exit_code == 0, result.output


def test_the_default_output_is_in_the_instance_folder(source, monkeypatch, tmp_path):
    instance = tmp_path / "instance"
    monkeypatch.setattr(source, "instance_path", str(instance))
    with source.app_context():
        path, _manifest = create_backup()
    assert path.parent == instance / "backups"
    assert path.name.startswith("lms-backup-") and path.name.endswith(".tar.gz")


def test_restore_refuses_an_instance_with_data(source, apps, tmp_path):
    archive = tmp_path / "b.tar.gz"
    with source.app_context():
        create_backup(archive)
    target = apps("target")  # synced camps and courses: not empty
    with target.app_context(), pytest.raises(BackupError, match="holds data"):
        restore_backup(archive)
    with target.app_context():
        restore_backup(archive, force=True)
    assert people(target) == people(source)


def test_backup_while_another_thread_writes_is_consistent(source, tmp_path):
    """Each writer transaction adds a user and their enrollment: a consistent snapshot holds
    both or neither, whatever moment it was taken at."""
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with source.app_context():
                course = db.session.scalars(db.select(Course).limit(1)).one()
                number = 0
                while not stop.is_set() and number < 2000:
                    user = User(
                        email=f"w{number}@example.com",
                        name="w",
                        password_hash="x",
                        role="learner",
                    )
                    db.session.add(user)
                    db.session.flush()
                    db.session.add(Enrollment(user_id=user.id, course_id=course.id))
                    db.session.commit()
                    written.append(number)
                    number += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        archives = []
        for number in range(3):
            with source.app_context():
                archives.append(create_backup(tmp_path / f"live{number}.tar.gz"))
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    for path, manifest in archives:
        extracted = tmp_path / f"x-{path.name}"
        extracted.mkdir()
        with tarfile.open(path) as tar:
            tar.extract("database/lms.sqlite3", extracted, filter="data")
        connection = sqlite3.connect(extracted / "database" / "lms.sqlite3")
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            users = connection.execute(
                "SELECT count(*) FROM users WHERE email LIKE 'w%@example.com'"
            ).fetchone()[0]
            enrolled = connection.execute(
                "SELECT count(*) FROM enrollments JOIN users ON users.id = enrollments.user_id "
                "WHERE users.email LIKE 'w%@example.com'"
            ).fetchone()[0]
            total = connection.execute("SELECT count(*) FROM users").fetchone()[0]
        finally:
            connection.close()
        assert users == enrolled > 0
        assert manifest["counts"]["users"] == total


# -- refusing bad archives -------------------------------------------------------------------


def _archive(path: Path, members: list[tarfile.TarInfo], manifest: dict | None = None) -> Path:
    """A gzip tar with a valid-looking manifest and database, plus ``members``."""
    with tarfile.open(path, "w:gz") as tar:
        data = json.dumps(
            manifest
            or {
                "format": 1,
                "engine": "sqlite",
                "alembic_revisions": [],
                "counts": {},
                "media": {"files": 0, "bytes": 0},
            }
        ).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("database/lms.sqlite3")
        info.size = 0
        tar.addfile(info, io.BytesIO(b""))
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_file("media/../../escaped.txt"), "leaving its folder"),
        (_file("../escaped.txt"), "leaving its folder"),
        (_file("/tmp/escaped.txt"), "unsafe name"),  # noqa: S108 - a name in a tar
        (_link("media/ab/link", "/etc/passwd", tarfile.SYMTYPE), "holds a link"),
        (_link("media/ab/hard", "/etc/passwd", tarfile.LNKTYPE), "holds a link"),
        (_device("media/null"), "special file"),
        (_file("elsewhere/file.txt"), "unexpected file"),
    ],
)
def test_malicious_archives_are_refused(apps, tmp_path, member, message):
    target = apps("target", schema=False)
    archive = _archive(tmp_path / "crafted.tar.gz", [member])
    with target.app_context(), pytest.raises(BackupError, match=message):
        restore_backup(archive)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "target" / "escaped.txt").exists()
    assert not (tmp_path / "target" / "lms.sqlite3").exists()


def test_a_tampered_manifest_is_refused(source, apps, tmp_path):
    archive = tmp_path / "b.tar.gz"
    with source.app_context():
        create_backup(archive)
    tar, manifest, _members = read_archive(archive)
    tar.close()
    manifest["counts"]["users"] += 1
    with tarfile.open(archive) as original, tarfile.open(tmp_path / "t.tar.gz", "w:gz") as out:
        for member in original.getmembers():
            if member.name == "manifest.json":
                data = json.dumps(manifest).encode()
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
            else:
                out.addfile(member, original.extractfile(member))
    target = apps("target", schema=False)
    with target.app_context(), pytest.raises(BackupError, match="does not match its manifest"):
        restore_backup(tmp_path / "t.tar.gz")


def test_not_an_archive_is_refused(apps, tmp_path):
    target = apps("target", schema=False)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    result = target.test_cli_runner().invoke(main, ["restore", str(junk)])
    assert result.exit_code == 1 and "not a backup archive" in result.output
    assert "Traceback" not in result.output


# -- PostgreSQL ------------------------------------------------------------------------------


def test_postgresql_is_refused_with_the_documented_procedure(app_config):
    app = create_app(
        {
            **app_config,
            "SQLALCHEMY_DATABASE_URI": "postgresql://lms@127.0.0.1:1/lms",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        }
    )
    for command in (["backup"], ["restore", __file__]):
        result = app.test_cli_runner().invoke(main, command)
        assert result.exit_code == 1
        assert "pg_dump -Fc" in result.output and "docs/deploy.md" in result.output
        assert "Traceback" not in result.output
