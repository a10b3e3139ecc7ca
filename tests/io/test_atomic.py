import errno
import os

import pytest

from mmf_imgtune.io.atomic import (
    TMP_MARK,
    DiskFullError,
    atomic_write,
    remove_orphaned_temps,
    temp_path,
)


@pytest.mark.parametrize("fsync", [True, False])
def test_atomic_write_bytes_text_and_writer(tmp_path, fsync):
    target = tmp_path / "sub" / "x.bin"
    assert atomic_write(target, b"\x00\x01", fsync=fsync) == target
    assert target.read_bytes() == b"\x00\x01"
    atomic_write(target, "é\n", fsync=fsync)
    assert target.read_bytes() == "é\n".encode()
    atomic_write(target, lambda handle: handle.write(b"abc"), fsync=fsync)
    assert target.read_bytes() == b"abc"
    assert os.listdir(target.parent) == ["x.bin"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")

    def dies(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, dies)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.json"]


def test_one_temporary_name_pattern_and_dead_writers_litter_removed(tmp_path):
    target = tmp_path / "model.ckpt"
    assert temp_path(target).name == f".model.ckpt{TMP_MARK}{os.getpid()}"
    assert temp_path(target, "shards").name == ".model.ckpt.tmp-shards"
    dead = temp_path(target, 2**22 + 12345)  # above any pid_max: no such process
    live = temp_path(target)  # this process's own: a live writer's file is kept
    other = tmp_path / "notes.txt"
    for path in (dead, live, other):
        path.write_bytes(b"x")
    remove_orphaned_temps(tmp_path.iterdir())
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name])


def test_clear_orphans_removes_only_the_targets_dead_temporaries(tmp_path):
    target = tmp_path / "current.ckpt"
    dead = temp_path(target, 2**22 + 12345)  # above any pid_max: no such process
    dead_other = temp_path(tmp_path / "other.ckpt", 2**22 + 12345)
    for path in (dead, dead_other):
        path.write_bytes(b"x")
    atomic_write(target, b"new")  # by default no folder scan: the litter stays
    assert dead.exists()
    atomic_write(target, b"newer", clear_orphans=True)
    assert not dead.exists() and dead_other.exists() and target.read_bytes() == b"newer"


def test_a_full_disk_names_the_file_keeps_the_old_one_and_gives_the_hint(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def full(handle):
        handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError, match=r"metrics\.json; the previous file is intact\. Go"):
        atomic_write(target, full, full_disk_hint="Go.")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["metrics.json"]
