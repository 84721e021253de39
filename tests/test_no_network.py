"""No test can reach a real host: the suite refuses every name lookup and
connection that is not loopback (tests/conftest.py)."""

import socket

import pytest
import requests

from .conftest import ExternalNetworkBlocked


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://serpapi.com/search",
        "https://api.openai.com/v1",
    ],
)
def test_a_test_cannot_reach_an_external_host(url):
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get(url, timeout=2)

    assert "use the fakes on 127.0.0.1" in str(raised.value)


def test_a_raw_connection_to_a_public_address_is_refused():
    with socket.socket() as sock, pytest.raises(ExternalNetworkBlocked):
        sock.connect(("93.184.216.34", 443))


def test_loopback_stays_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
