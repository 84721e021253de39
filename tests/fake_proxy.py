"""An HTTP(S) proxy on 127.0.0.1 for tests, and the test CA it needs.

``InterceptingProxy`` is what a real forward proxy looks like to a client:
plain requests with an absolute URL, and ``CONNECT host:443`` tunnels for
https. Instead of connecting onwards (tests never leave this machine), it
terminates the TLS of each tunnel itself, with a certificate for the
tunnel's host signed by a ``TestCA`` made for the test, and hands every
request it reads to ``app``: a function from ``ProxiedRequest`` to
``(status, headers, body)``. It records every CONNECT and every request, and
can demand Basic credentials (``Proxy-Authorization``) as paid proxies do.

Clients must trust the test CA for the tunnels to work: ``TestCA.bundle``
is a PEM file with its certificate.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class TestCA:
    """A certificate authority that lives for one test: a key, a self-signed
    CA certificate (``bundle``, PEM) and server certificates it signs."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="studynaut-test-ca-")
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Studynaut test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.bundle = os.path.join(self._dir.name, "ca.pem")
        with open(self.bundle, "wb") as handle:
            handle.write(self.certificate.public_bytes(serialization.Encoding.PEM))

    def server_context(self, hostnames: list[str]) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for ``hostnames`` (wildcards allowed)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        names: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        prefix = os.path.join(self._dir.name, f"server-{x509.random_serial_number()}")
        with open(f"{prefix}.pem", "wb") as handle:
            handle.write(certificate.public_bytes(serialization.Encoding.PEM))
        with open(f"{prefix}.key", "wb") as handle:
            handle.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(f"{prefix}.pem", f"{prefix}.key")
        return context

    def close(self) -> None:
        self._dir.cleanup()


@dataclass
class ProxiedRequest:
    """One request the proxy read: from a tunnel (``tunnelled``) or sent as an absolute URL."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    tunnelled: bool = True

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass
class ProxyLog:
    connects: list[str] = field(default_factory=list)  # "host:port" of every CONNECT
    requests: list[ProxiedRequest] = field(default_factory=list)
    refused: int = 0  # requests answered 407 (no or wrong credentials)


App = Callable[[ProxiedRequest], tuple[int, dict[str, str], bytes]]


class InterceptingProxy:
    """A forward proxy on 127.0.0.1 whose tunnels end here, at ``app``.

    ``hosts`` are the names it has a certificate for (a CONNECT to any other
    host is refused with 502, as a proxy that cannot reach it would).
    ``credentials`` (``"user:password"``), when given, must come as
    ``Proxy-Authorization: Basic ...`` with every CONNECT and plain request.
    """

    def __init__(self, app: App, *, ca: TestCA, hosts: list[str], credentials: str | None = None) -> None:
        self.app = app
        self.hosts = hosts
        self.credentials = credentials
        self.log = ProxyLog()
        self._lock = threading.Lock()
        self._tls = ca.server_context(hosts)
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> InterceptingProxy:
        proxy = self

        class Outer(_Handler):
            def do_CONNECT(self) -> None:
                proxy._connect(self)

            def handle_any(self) -> None:
                proxy._plain(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Outer)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="proxy"
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> InterceptingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        assert self._httpd is not None, "start() the proxy first"
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, *, scheme: str = "http") -> str:
        """The URL a client is configured with, credentials included."""
        userinfo = f"{self.credentials}@" if self.credentials else ""
        return f"{scheme}://{userinfo}{self.address}"

    # --- what it saw --------------------------------------------------------------------

    @property
    def requests(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self.log.requests)

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    # --- the protocol -------------------------------------------------------------------

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if not self.credentials:
            return True
        expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
        if handler.headers.get("Proxy-Authorization", "") == expected:
            return True
        with self._lock:
            self.log.refused += 1
        body = b"proxy credentials required"
        handler.send_response(407)
        handler.send_header("Proxy-Authenticate", 'Basic realm="test proxy"')
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return False

    def _connect(self, handler: BaseHTTPRequestHandler) -> None:
        host, _, port = handler.path.rpartition(":")
        with self._lock:
            self.log.connects.append(handler.path)
        if not self._authorised(handler):
            handler.close_connection = True
            return
        if not any(_host_matches(pattern, host) for pattern in self.hosts) or port != "443":
            handler.send_error(502, "cannot reach that host")
            handler.close_connection = True
            return
        handler.send_response(200, "Connection established")
        handler.end_headers()
        handler.wfile.flush()
        try:
            tls = self._tls.wrap_socket(handler.connection, server_side=True)
        except (ssl.SSLError, OSError):
            handler.close_connection = True  # the client did not trust us: it says why
            return
        proxy = self

        class Inner(_Handler):
            def handle_any(self) -> None:
                proxy._serve(self, f"https://{host}", tunnelled=True)

        try:
            Inner(tls, handler.client_address, handler.server)
        except (ssl.SSLError, OSError):
            pass
        finally:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                tls.close()

    def _plain(self, handler: BaseHTTPRequestHandler) -> None:
        if not self._authorised(handler):
            return
        if not handler.path.startswith("http://"):
            handler.send_error(400, "a proxy request needs an absolute URL")
            return
        self._serve(handler, "", tunnelled=False)

    def _serve(self, handler: BaseHTTPRequestHandler, origin: str, *, tunnelled: bool) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = ProxiedRequest(
            method=handler.command,
            url=origin + handler.path,
            headers={name: value for name, value in handler.headers.items()},
            body=body,
            tunnelled=tunnelled,
        )
        with self._lock:
            self.log.requests.append(request)
        try:
            status, headers, content = self.app(request)
        except Exception as exc:  # a bug in the app should show in the test, not hang the client
            status, headers, content = 599, {"Content-Type": "text/plain"}, repr(exc).encode()
        try:
            handler.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed, not kept forever

    def handle_any(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    def log_message(self, *args: Any) -> None:
        pass


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host.count(".") == pattern.count(".")
    return host == pattern


def free_port() -> int:
    """A port nothing listens on (for a proxy that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
