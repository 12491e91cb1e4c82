"""Files that hold tenant data are private and written whole: the local tenant and its lock file,
saved plans, exports, reports and the Graph delta state are made 0600 in a 0700 `.reconciler/`,
whatever the umask allows beyond that; `--out` replaces only a regular file."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.emulator import running
from reconciler.errors import InputError
from reconciler.private_files import (
    open_private,
    private_dir,
    replacing,
    write_atomic,
    write_private,
)

ROOT = Path(__file__).resolve().parents[1]
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
UMASKS = pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])


def run(folder: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    """The real `reconciler` in a subprocess under `umask`, in `folder`."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
        preexec_fn=lambda: os.umask(umask),
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    """Temporary files a write left behind."""
    return sorted(p.name for p in folder.rglob("*.tmp"))


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo policy over a local tenant in `.reconciler/`, made from its seed on first use."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "seed.json")
    (tmp_path / "reconciler.yaml").write_text(
        "tenant: local:.reconciler/tenant.db\nseed: seed.json\npolicy: policies/\n"
    )
    return tmp_path


@POSIX
@UMASKS
def test_tenant_data_is_private_whatever_the_umask(demo, umask):
    planned = run(demo, "plan", "--out", "saved.plan", umask=umask)
    assert planned.returncode == 0, planned.stderr
    assert mode(demo / ".reconciler") == 0o700
    assert mode(demo / ".reconciler" / "tenant.db") == 0o600
    assert mode(demo / ".reconciler" / "tenant.db.lock") == 0o600
    assert mode(demo / "saved.plan") == 0o600

    exported = run(demo, "tenant", "export", "--out", "export.json", umask=umask)
    assert exported.returncode == 0, exported.stderr
    assert mode(demo / "export.json") == 0o600
    for report in ("licenses", "seats", "groups"):
        written = run(demo, "report", report, "--out", f"{report}.txt", umask=umask)
        assert written.returncode == 0, written.stderr
        assert mode(demo / f"{report}.txt") == 0o600
        assert (demo / f"{report}.txt").read_text().strip()

    imported = run(demo, "tenant", "import", "export.json", umask=umask)
    assert imported.returncode == 0, imported.stderr
    assert mode(demo / ".reconciler" / "tenant.db") == 0o600
    assert leftovers(demo) == []


@POSIX
@UMASKS
def test_graph_delta_state_is_private_whatever_the_umask(tmp_path, umask):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    with running(str(tmp_path / "tenant.json")) as emulator:
        for _ in range(2):  # a full read, then a delta round written in place
            planned = run(tmp_path, "plan", "--graph-url", emulator.url, umask=umask)
            assert planned.returncode == 0, planned.stderr
    [state] = (tmp_path / ".reconciler" / "graph").glob("delta-*.db")
    assert mode(tmp_path / ".reconciler") == 0o700
    assert mode(tmp_path / ".reconciler" / "graph") == 0o700
    assert mode(state) == 0o600
    assert leftovers(tmp_path) == []


@POSIX
def test_an_export_written_before_as_0644_becomes_private(demo):
    (demo / "export.json").write_text("{}")
    os.chmod(demo / "export.json", 0o644)
    assert run(demo, "tenant", "export", "--out", "export.json").returncode == 0
    assert mode(demo / "export.json") == 0o600
    assert (demo / "export.json").read_text().startswith("{\n")


def _refusals(demo: Path, target: str) -> list[tuple[str, ...]]:
    return [
        ("plan", "--out", target),
        ("tenant", "export", "--out", target),
        ("report", "licenses", "--out", target),
    ]


@POSIX
@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_out_replaces_only_a_regular_file(demo, kind):
    if kind == "directory":
        (demo / "out").mkdir()
        target = "out"
    elif kind == "fifo":
        os.mkfifo(demo / "out")
        target = "out"
    else:
        target = os.devnull
    before = sorted(p.name for p in demo.iterdir())
    for args in _refusals(demo, target):
        result = run(demo, *args)  # a FIFO opened for writing would wait here for a reader
        assert result.returncode == 1, (args, result.stdout)
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
        words = {"directory": "directory", "fifo": "a FIFO", "device": "a character device"}
        assert words[kind] in result.stderr, result.stderr
    # the tenant made from its seed on first use is all that appears
    assert sorted(p.name for p in demo.iterdir() if p.name != ".reconciler") == before
    assert leftovers(demo) == []
    if kind == "fifo":
        assert stat.S_ISFIFO((demo / "out").stat().st_mode)
    if kind == "device":
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@POSIX
def test_a_refusal_is_one_message_naming_the_file(demo):
    os.mkfifo(demo / "out.json")
    result = run(demo, "tenant", "export", "--out", "out.json")
    assert result.stderr == "error: out.json: won't write here: it is a FIFO, not a regular file\n"
    (demo / "reports").mkdir()
    result = run(demo, "report", "seats", "--out", "reports")
    assert result.stderr == (
        "error: reports: won't write here: it is a directory, not a regular file\n"
    )


# --- the helper ---------------------------------------------------------------------------


@POSIX
def test_private_dir_makes_each_missing_folder_0700_and_leaves_others(tmp_path):
    (tmp_path / "kept").mkdir(mode=0o755)
    os.chmod(tmp_path / "kept", 0o755)
    private_dir(tmp_path / "kept" / "a" / "b")
    assert mode(tmp_path / "kept") == 0o755
    assert mode(tmp_path / "kept" / "a") == 0o700
    assert mode(tmp_path / "kept" / "a" / "b") == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="it is a file"):
        private_dir(tmp_path / "file" / "c")


@POSIX
def test_a_private_file_replaced_keeps_a_narrower_mode_and_never_a_wider(tmp_path):
    path = tmp_path / "data.json"
    write_private(path, "one")
    assert (mode(path), path.read_text()) == (0o600, "one")
    os.chmod(path, 0o400)
    write_private(path, b"two")
    assert (mode(path), path.read_text()) == (0o400, "two")
    os.chmod(path, 0o666)
    write_private(path, "three\n")
    assert (mode(path), path.read_bytes()) == (0o600, b"three\n")


@POSIX
def test_a_file_that_is_not_private_keeps_its_mode(tmp_path):
    path = tmp_path / "skus.lock.yaml"
    write_atomic(path, "a: 1\n", private=False)
    assert mode(path) == 0o666 & ~_umask()
    os.chmod(path, 0o640)
    write_atomic(path, "a: 2\n", private=False)
    assert (mode(path), path.read_text()) == (0o640, "a: 2\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@POSIX
def test_a_link_is_followed_and_kept(tmp_path):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    write_private(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "real.json").read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_writing_into_a_missing_folder_is_an_input_error_naming_the_file(tmp_path):
    with pytest.raises(InputError, match="can't write file") as caught:
        write_private(tmp_path / "missing" / "plan.json", "x")
    assert caught.value.location.file.endswith("plan.json")


@POSIX
def test_open_private_appends_to_a_file_made_private(tmp_path):
    path = tmp_path / ".reconciler" / "audit.jsonl"
    for line in (b"one\n", b"two\n"):
        with open_private(path) as file:
            file.write(line)
    assert path.read_bytes() == b"one\ntwo\n"
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="a FIFO"):
        open_private(tmp_path / "fifo")
