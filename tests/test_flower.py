"""Flower, which controls the workers, never listens beyond 127.0.0.1
without credentials (SPEC section 1): the Procfile's flower line, started
as a process manager starts it, and the compose file."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CREDENTIALS = ("ops", "a-long-flower-passphrase")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_line(name: str, procfile: str = "Procfile") -> str:
    for line in (ROOT / procfile).read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} line in {procfile}")


def flower_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "STUDYNAUT_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "flower-test-secret-key-not-for-production",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FLOWER_PORT": str(port),
        **extra,
    }
    return {key: value for key, value in env.items() if value is not None}


class Flower:
    """The Procfile's flower line in a shell, like honcho runs it."""

    def __init__(self, tmp_path: Path, procfile: str = "Procfile", **env: str) -> None:
        self.port = free_port()
        self.log = tmp_path / f"flower-{self.port}.log"
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen(
                ["sh", "-c", procfile_line("flower", procfile)],
                cwd=ROOT,
                env=flower_env(tmp_path, self.port, **env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_exit(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout=timeout)

    def wait_listening(self, timeout: float = 60) -> list[str]:
        """The addresses its processes listen on, once they listen on the port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, f"flower exited:\n{self.output()}"
            addresses = self.listening_addresses()
            if addresses:
                return addresses
            time.sleep(0.2)
        raise AssertionError(f"flower did not listen on {self.port}:\n{self.output()}")

    def listening_addresses(self) -> list[str]:
        if self.popen.poll() is not None:
            return []  # an exited process listens on nothing
        processes = [psutil.Process(self.popen.pid)]
        processes += processes[0].children(recursive=True)
        return sorted(
            connection.laddr.ip
            for process in processes
            for connection in process.net_connections(kind="inet")
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == self.port
        )

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)


@pytest.fixture
def flowers(tmp_path):
    started: list[Flower] = []

    def start(**env: str) -> Flower:
        flower = Flower(tmp_path, **env)
        started.append(flower)
        return flower

    yield start
    for flower in started:
        flower.stop()


def test_by_default_flower_listens_on_the_loopback_only(flowers):
    flower = flowers()

    addresses = flower.wait_listening()

    assert set(addresses) <= {"127.0.0.1"}, addresses
    assert addresses
    page = requests.get(f"http://127.0.0.1:{flower.port}/", timeout=10)
    assert page.status_code == 200


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10"])
def test_flower_refuses_to_listen_beyond_the_loopback_without_credentials(flowers, address):
    flower = flowers(FLOWER_ADDRESS=address)

    code = flower.wait_exit()

    assert code != 0
    assert "FLOWER_BASIC_AUTH" in flower.output()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", flower.port), timeout=5),
    ):
        pass


@pytest.mark.parametrize("credentials", ["", "admin", "admin:", ":secret"])
def test_flower_refuses_empty_or_half_credentials(flowers, credentials):
    flower = flowers(FLOWER_ADDRESS="0.0.0.0", FLOWER_BASIC_AUTH=credentials)

    assert flower.wait_exit() != 0


def test_only_with_credentials_flower_may_listen_on_every_interface_and_asks_for_them(flowers):
    assert flowers(FLOWER_ADDRESS="0.0.0.0").wait_exit() != 0

    flower = flowers(FLOWER_ADDRESS="0.0.0.0", FLOWER_BASIC_AUTH=":".join(CREDENTIALS))

    assert flower.wait_listening() == ["0.0.0.0"]
    url = f"http://127.0.0.1:{flower.port}/"
    for _ in range(50):  # the listening socket is there a moment before the app answers
        try:
            anonymous = requests.get(url, timeout=10)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    assert anonymous.status_code == 401
    assert requests.get(url, auth=CREDENTIALS, timeout=10).status_code == 200


def test_the_address_cannot_be_slipped_in_on_the_command_line(tmp_path):
    result = subprocess.run(
        ["scripts/flower", "--address=0.0.0.0", "--port=1"],
        cwd=ROOT,
        env=flower_env(tmp_path, 1),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode != 0
    assert "FLOWER_ADDRESS" in result.stderr


def test_flower_refuses_to_start_without_a_broker(tmp_path):
    result = subprocess.run(
        ["scripts/flower", "--port=1"],
        cwd=ROOT,
        env=flower_env(tmp_path, 1, CELERY_BROKER_URL=None),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode != 0
    assert "CELERY_BROKER_URL" in result.stderr


def test_the_development_procfile_uses_the_same_guard():
    assert procfile_line("flower", "Procfile.dev").startswith("scripts/flower ")
    assert procfile_line("flower").startswith("scripts/flower ")


def test_compose_ships_no_password_and_publishes_flower_on_the_loopback_only():
    flower = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["flower"]

    assert flower["command"][0] == "scripts/flower"
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    for published in flower["ports"]:
        default = published.split(":-", 1)[1] if ":-" in published else published
        assert default.startswith("127.0.0.1:"), published
