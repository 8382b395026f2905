"""``lms backup`` and ``lms restore`` for the embedded default (SQLite and the media folder).

A backup is one ``.tar.gz``::

    manifest.json           format, app version, time, engine, Alembic revisions, row counts,
                            media files and bytes
    database/lms.sqlite3    a consistent snapshot taken with SQLite's online backup API
                            (never a copy of the live file, which may be mid-write in WAL mode)
    media/…                 the media folder (videos, posters, captions), copied after the
                            snapshot so every file the snapshot refers to is there

Restoring reads nothing from the archive until every member is checked: regular files and
folders only (no links, devices or FIFOs), names that stay inside the target, the manifest
present and matching the snapshot. It refuses to overwrite an instance that holds data unless
told to (``force``). PostgreSQL deployments use ``pg_dump``/``pg_restore`` (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from flask import current_app

from lms import __version__
from lms.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = "database/lms.sqlite3"
MEDIA_PREFIX = "media"
# Uploads still being written (lms.services.media.store_stream) are not part of a backup.
PARTIAL_SUFFIXES = (".upload",)
POSTGRES_ADVICE = (
    "lms backup and lms restore handle the embedded SQLite database only. For PostgreSQL use "
    "pg_dump -Fc and pg_restore, plus a copy of the media folder (docs/deploy.md, 'Backups')."
)


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass
class RestoreReport:
    database: Path
    media_root: Path
    manifest: dict[str, Any]
    media_files: int = 0
    notes: list[str] = field(default_factory=list)


def sqlite_path() -> Path:
    """The file of the app's SQLite database; BackupError for PostgreSQL or in-memory ones."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise BackupError(POSTGRES_ADVICE)
    if url.database in (None, "", ":memory:") or str(url.database).startswith("file::memory:"):
        raise BackupError("the database is in memory: there is nothing to back up")
    return Path(url.database).resolve()


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"]).resolve()


def default_output() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(current_app.instance_path) / "backups" / f"lms-backup-{stamp}.tar.gz"


# --- backup ---------------------------------------------------------------------------------


def _table_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
        for table in tables
    }


def _revisions(connection: sqlite3.Connection) -> list[str]:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:  # made without migrations (db.create_all)
        return []
    return sorted(row[0] for row in rows)


def snapshot(source: Path, target: Path) -> None:
    """Copy the live database at ``source`` into ``target`` with the online backup API.

    One step (all pages) under one read transaction: writers go on meanwhile (WAL), and the
    copy is the database as of one commit.
    """
    src = sqlite3.connect(source, timeout=30)  # only reads; read-write so WAL needs no care
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            result = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    if result != "ok":
        raise BackupError(f"the snapshot failed SQLite's integrity check: {result}")


def _media_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and not path.name.endswith(PARTIAL_SUFFIXES)
    )


def create_backup(output: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Write a backup archive; returns its path and manifest."""
    database = sqlite_path()
    if not database.exists():
        raise BackupError(f"there is no database at {database}; run `lms init` first")
    output = (output or default_output()).resolve()
    root = media_root()
    if output.is_relative_to(root):
        raise BackupError("write the backup outside the media folder")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".lms-backup-") as scratch:
        copy = Path(scratch) / "lms.sqlite3"
        snapshot(database, copy)
        connection = sqlite3.connect(copy)
        try:
            counts, revisions = _table_counts(connection), _revisions(connection)
        finally:
            connection.close()
        files = _media_files(root)
        media_totals = {"files": 0, "bytes": 0}
        manifest = {
            "format": FORMAT,
            "app": "camp-lms",
            "version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "engine": "sqlite",
            "alembic_revisions": revisions,
            "counts": counts,
            "media": media_totals,
        }
        partial = Path(scratch) / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(copy, DATABASE_MEMBER)
            for path in files:
                name = f"{MEDIA_PREFIX}/{path.relative_to(root).as_posix()}"
                try:
                    archive.add(path, name, recursive=False)
                except FileNotFoundError:  # deleted since we listed it (a replaced caption)
                    continue
                media_totals["files"] += 1
                media_totals["bytes"] += archive.getmember(name).size
            data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
            archive.addfile(info, io.BytesIO(data))
        partial.chmod(0o600)  # the database holds password hashes and session tokens
        os.replace(partial, output)
    return output, manifest


# --- restore --------------------------------------------------------------------------------


def _safe_name(member: tarfile.TarInfo) -> PurePosixPath:
    """The member's relative path, or BackupError when it is not a plain file or folder
    with a name that stays inside the target."""
    if not (member.isfile() or member.isdir()):
        kind = "link" if member.issym() or member.islnk() else "special file"
        raise BackupError(f"the archive holds a {kind} ({member.name!r}): refused")
    name = member.name
    path = PurePosixPath(name)
    if not name or "\\" in name or "\x00" in name or path.is_absolute():
        raise BackupError(f"the archive holds an unsafe name ({name!r}): refused")
    if any(part in ("..", "") for part in name.rstrip("/").split("/")):
        raise BackupError(f"the archive holds a name leaving its folder ({name!r}): refused")
    return path


def read_archive(archive: Path) -> tuple[tarfile.TarFile, dict[str, Any], list[tarfile.TarInfo]]:
    """Open and check an archive: every member, then the manifest. The caller closes it."""
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - returned open, closed by the caller
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive} is not a backup archive (.tar.gz): {exc}") from None
    try:
        members = tar.getmembers()
        names = set()
        for member in members:
            path = _safe_name(member)
            top = path.parts[0] if path.parts else ""
            unexpected = top != MEDIA_PREFIX or len(path.parts) < 2
            if member.isfile() and str(path) not in (MANIFEST, DATABASE_MEMBER) and unexpected:
                raise BackupError(f"the archive holds an unexpected file {member.name!r}")
            if str(path) in names:
                raise BackupError(f"the archive holds {member.name!r} twice")
            names.add(str(path))
        if MANIFEST not in names or DATABASE_MEMBER not in names:
            raise BackupError("the archive has no manifest or no database: not an lms backup")
        try:
            manifest_file = tar.extractfile(MANIFEST)
            if manifest_file is None:
                raise ValueError("it is not a file")
            manifest = json.loads(manifest_file.read())
        except ValueError as exc:
            raise BackupError(f"the manifest cannot be read: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"unknown backup format (this version reads format {FORMAT})")
        if manifest.get("engine") != "sqlite":
            raise BackupError("the archive is not a backup of a SQLite database")
        media = [m for m in members if m.isfile() and m.name.startswith(f"{MEDIA_PREFIX}/")]
        expected = manifest.get("media", {})
        if expected.get("files") != len(media) or expected.get("bytes") != sum(
            m.size for m in media
        ):
            raise BackupError("the media in the archive do not match its manifest")
    except BaseException:
        tar.close()
        raise
    return tar, manifest, members


def _holds_data(database: Path) -> dict[str, int]:
    """Tables with rows (besides Alembic's) in the database at ``database``."""
    if not database.exists() or database.stat().st_size == 0:
        return {}
    connection = sqlite3.connect(database, timeout=30)
    try:
        counts = _table_counts(connection)
    finally:
        connection.close()
    return {table: n for table, n in counts.items() if n and table != "alembic_version"}


def _known_revisions() -> set[str] | None:
    """Every Alembic revision this code knows (core and plugins), or None if unavailable."""
    try:
        from alembic.script import ScriptDirectory

        config = current_app.extensions["migrate"].migrate.get_config()
        return {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    except Exception:
        return None


def _extract_file(tar: tarfile.TarFile, member: tarfile.TarInfo, folder: Path, name: str) -> None:
    """Extract ``member`` as ``folder/name`` through tarfile's ``data`` filter, which refuses
    links, devices, absolute names and names leaving ``folder``, and drops unsafe modes."""
    try:
        tar.extract(member.replace(name=name, deep=False), folder, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"refused {member.name!r}: {exc}") from None


def restore_backup(archive: Path, force: bool = False) -> RestoreReport:
    """Restore ``archive`` into this instance's database file and media folder."""
    database = sqlite_path()
    root = media_root()
    tar, manifest, members = read_archive(archive)
    with tar:
        existing = _holds_data(database)
        if existing and not force:
            summary = ", ".join(f"{n} {table}" for table, n in sorted(existing.items())[:6])
            raise BackupError(
                f"the database {database} holds data ({summary}); restore into an empty "
                "instance, or pass --force to replace it"
            )
        if root.is_dir() and any(_media_files(root)) and not force:
            raise BackupError(
                f"the media folder {root} is not empty; restore into an empty instance, or "
                "pass --force to add the archive's files to it"
            )
        report = RestoreReport(database, root, manifest)
        known = _known_revisions()
        revisions = manifest.get("alembic_revisions") or []
        unknown = [rev for rev in revisions if known is not None and rev not in known]
        if unknown:
            raise BackupError(
                f"the backup's schema revision {', '.join(unknown)} is unknown to this version "
                f"of Camp LMS ({__version__}): install the version that made it "
                f"({manifest.get('version')}) or a newer one"
            )
        database.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=database.parent, prefix=".lms-restore-") as scratch:
            staged = Path(scratch) / "lms.sqlite3"
            _extract_file(tar, tar.getmember(DATABASE_MEMBER), Path(scratch), staged.name)
            _check_snapshot(staged, manifest)
            # Nothing of ours may keep the old file open; then swap it in.
            db.session.remove()
            db.engine.dispose()
            for suffix in ("-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{database}{suffix}").unlink()
            os.replace(staged, database)
        base = root.resolve()
        for member in members:
            if not member.isfile() or not member.name.startswith(f"{MEDIA_PREFIX}/"):
                continue
            relative = PurePosixPath(member.name).relative_to(MEDIA_PREFIX)
            _extract_file(tar, member, base, str(relative))
            report.media_files += 1
    if revisions:
        report.notes.append(
            "run `lms db upgrade heads` if this version of Camp LMS is newer than the backup's"
        )
    return report


def _check_snapshot(path: Path, manifest: dict[str, Any]) -> None:
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchone()[0]
            counts, revisions = _table_counts(connection), _revisions(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the archive's database cannot be read: {exc}") from None
    if result != "ok":
        raise BackupError(f"the archive's database fails SQLite's integrity check: {result}")
    if counts != manifest.get("counts") or revisions != manifest.get("alembic_revisions"):
        raise BackupError("the archive's database does not match its manifest")
