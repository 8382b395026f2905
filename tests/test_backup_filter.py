"""Restores extract through tarfile's ``data`` filter (lms.backup._extract_file)."""

import io
import stat
import tarfile

import pytest

from lms.backup import BackupError, _extract_file

pytestmark = pytest.mark.engine_independent


def _archive(tmp_path, name="media/视频/课程.mp4", mode=0o644, data=b"\x00\x01mp4"):
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))
    return tarfile.open(path, "r:gz")


def test_a_member_lands_under_its_new_name_with_its_bytes(tmp_path):
    with _archive(tmp_path) as tar:
        _extract_file(tar, tar.getmembers()[0], tmp_path / "out", "视频/课程.mp4")
    assert (tmp_path / "out" / "视频" / "课程.mp4").read_bytes() == b"\x00\x01mp4"


def test_unsafe_modes_are_dropped(tmp_path):
    with _archive(tmp_path, mode=0o6777) as tar:
        _extract_file(tar, tar.getmembers()[0], tmp_path / "out", "a.mp4")
    mode = (tmp_path / "out" / "a.mp4").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("name", ["../escape.mp4", "a/../../escape.mp4"])
def test_a_name_leaving_the_folder_is_refused(tmp_path, name):
    with _archive(tmp_path) as tar, pytest.raises(BackupError, match="refused"):
        _extract_file(tar, tar.getmembers()[0], tmp_path / "out", name)
    assert list(tmp_path.rglob("*.mp4")) == []


def test_an_absolute_name_stays_inside_the_folder(tmp_path):
    with _archive(tmp_path) as tar:
        _extract_file(tar, tar.getmembers()[0], tmp_path / "out", "/etc/escape.mp4")
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*.mp4")] == [
        (tmp_path / "out" / "etc" / "escape.mp4").relative_to(tmp_path)
    ]
