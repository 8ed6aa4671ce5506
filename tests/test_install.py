"""install/install.sh against local artifacts and a URL served on loopback: the SHA-256 is checked first, it
installs without root into a prefix, adds the kubectl-upid link, and uninstalls. With the real builds when they
exist (build/build.sh), and always with a stand-in program, so the script's own logic is tested everywhere."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
from binaries import DIST, ONEFILE, REPO, require

SCRIPT = REPO / "install" / "install.sh"
STAND_IN = '#!/bin/sh\n[ "$1" = --version ] && echo "upid 9.9.9 (commit stand-in)" && exit 0\nexit 0\n'


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _with_sha_file(path: Path) -> Path:
    path.with_name(path.name + ".sha256").write_text(f"{_sha(path)}  {path.name}\n")
    return path


@pytest.fixture
def stand_ins(tmp_path: Path) -> dict[str, Path]:
    """A one-file 'binary' and a one-folder tarball laid out as build/build.sh lays them out."""
    out = tmp_path / "artifacts"
    (out / "upid").mkdir(parents=True)
    one = out / "upid" / "upid"
    one.write_text(STAND_IN)
    one.chmod(0o755)
    (out / "upid" / "_internal").mkdir()
    (out / "upid" / "_internal" / "data.txt").write_text("bundled")
    tarball = out / "upid-linux-amd64.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(out / "upid", arcname="upid")
    single = out / "single" / "upid"
    single.parent.mkdir()
    shutil.copy(one, single)
    return {"onefile": _with_sha_file(single), "tarball": _with_sha_file(tarball)}


def install(*args: object, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run(["sh", str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("kind", ["onefile", "tarball"])
def test_install_verifies_installs_links_and_uninstalls(stand_ins, tmp_path: Path, kind: str) -> None:
    prefix = tmp_path / "prefix"
    r = install("--from", stand_ins[kind], "--prefix", prefix, home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "installed upid 9.9.9" in r.stdout and "not on your PATH" in r.stdout
    upid, plugin = prefix / "bin" / "upid", prefix / "bin" / "kubectl-upid"
    assert subprocess.run([upid, "--version"], capture_output=True, text=True).stdout.startswith("upid 9.9.9")
    assert plugin.is_symlink() and os.readlink(plugin) == "upid"
    if kind == "tarball":
        assert (prefix / "lib" / "upid" / "_internal" / "data.txt").read_text() == "bundled"
    r = install("--uninstall", "--prefix", prefix, home=tmp_path)
    assert r.returncode == 0 and not upid.exists() and not plugin.is_symlink()
    assert not (prefix / "lib" / "upid").exists()
    assert install("--uninstall", "--prefix", prefix, home=tmp_path).returncode == 4  # nothing left to remove


def test_a_wrong_or_missing_checksum_installs_nothing(stand_ins, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    r = install("--from", stand_ins["onefile"], "--sha256", "0" * 64, "--prefix", prefix, home=tmp_path)
    assert r.returncode == 3 and "SHA-256 mismatch" in r.stderr and not (prefix / "bin" / "upid").exists()
    bare = tmp_path / "bare" / "upid"
    bare.parent.mkdir()
    shutil.copy(stand_ins["onefile"], bare)  # no upid.sha256 next to it
    r = install("--from", bare, "--prefix", prefix, home=tmp_path)
    assert r.returncode == 3 and "no --sha256 given" in r.stderr and not (prefix / "bin").exists()
    r = install("--from", bare, "--sha256", _sha(bare), "--prefix", prefix, "--no-kubectl-plugin", home=tmp_path)
    assert r.returncode == 0 and not (prefix / "bin" / "kubectl-upid").exists()
    assert install("--from", tmp_path / "missing", home=tmp_path).returncode == 2
    assert install("--bogus", home=tmp_path).returncode == 2


def test_install_from_a_url_with_its_published_checksum(stand_ins, tmp_path: Path) -> None:
    if not (shutil.which("curl") or shutil.which("wget")):
        pytest.skip("neither curl nor wget here")
    folder = stand_ins["tarball"].parent

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, directory=str(folder), **k)

        def log_message(self, *a) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{stand_ins['tarball'].name}"
        prefix = tmp_path / "prefix"
        r = install("--from", url, "--prefix", prefix, home=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (prefix / "bin" / "upid").exists()
        r = install("--from", url + ".missing", "--prefix", tmp_path / "p2", home=tmp_path)
        assert r.returncode == 5 and "cannot download" in r.stderr
    finally:
        server.shutdown()


@pytest.mark.parametrize("name", ["upid", "upid-linux-amd64.tar.gz"])
def test_install_the_real_build(tmp_path: Path, name: str) -> None:
    require(ONEFILE)
    artifact = DIST / name
    if not artifact.exists():
        pytest.skip(f"{artifact} is not built")
    prefix = tmp_path / "prefix"
    r = install("--from", artifact, "--prefix", prefix, home=tmp_path)
    assert r.returncode == 0, r.stderr
    for program in ("upid", "kubectl-upid"):
        out = subprocess.run([prefix / "bin" / program, "--version"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("upid "), out.stderr
