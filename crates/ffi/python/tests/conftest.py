"""Fixtures of the Python binding tests: the repository, the `candor`
binary cargo built, and a real `candor serve` on a free port."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
SCHEMA_TOML = (ROOT / "examples" / "browser.toml").read_text()


def candor_bin() -> str:
    """The debug `candor` binary: $CANDOR_BIN, else $CARGO_TARGET_DIR's, else target/'s."""
    if os.environ.get("CANDOR_BIN"):
        return os.environ["CANDOR_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "debug" / "candor"
    if not path.exists():
        pytest.fail(f"{path} not found: run `cargo build -p candor` or set CANDOR_BIN")
    return str(path)


def run(*args: str) -> str:
    """Runs the candor binary and returns its stdout; fails the test on a non-zero exit."""
    out = subprocess.run([candor_bin(), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"candor {' '.join(args)}: {out.stderr}"
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `candor serve` with its data in `data`, optionally on a clock moved
    by `days` (through libfaketime: the collector only releases days that
    have closed, several days after devices reported them)."""

    def __init__(self, data: Path):
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, days: int = 0) -> "Server":
        cmd = [candor_bin(), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data)]
        env = dict(os.environ)
        if days:
            faketime = shutil.which("faketime")
            if faketime is None:
                pytest.fail("faketime is needed to move the collector's clock (apt-get install faketime)")
            cmd = [faketime, "-f", f"+{days}d", *cmd]
            # Timers and timeouts keep the real monotonic clock.
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail("candor serve did not become ready")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            self.proc = None

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as r:
            return r.read()

    def signing_key(self) -> str:
        """The region eu's signing public key (what an app pins)."""
        found = [p for p in glob.glob(str(self.data / "**" / "signing.public.json"), recursive=True)
                 if json.load(open(p))["region"] == "eu"]
        assert found, "the collector made no signing key for eu"
        return Path(found[0]).read_text()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "collector").start()
    yield s
    s.stop()
