"""Debian's nginx as the TLS front of a managed engine: HTTPS with a certificate from a CA made by
the test (openssl), basic auth (an htpasswd file, so anything without the right credentials is a
401), optionally mutual TLS, and plain HTTP to the engine behind it. This is what a self-managed
cluster with the security plugin, Aiven or Bonsai looks like from the service's side."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from listing_search.runner import free_port
from tests.support.debian import debian_program
from tests.support.processes import stop


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost signed by it, and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: the server does not verify against it


def _openssl(openssl: str, *args: str) -> None:
    subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)


def make_pki(folder: Path) -> Pki:
    openssl = debian_program("openssl", "openssl")
    folder.mkdir(parents=True, exist_ok=True)

    def ca(name: str) -> tuple[Path, Path]:
        key, cert = folder / f"{name}.key", folder / f"{name}.pem"
        _openssl(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                 "-keyout", str(key), "-out", str(cert))  # fmt: skip
        return cert, key

    def signed(name: str, ca_cert: Path, ca_key: Path, extensions: str) -> tuple[Path, Path]:
        key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
        ext = folder / f"{name}.ext"
        ext.write_text(extensions)
        _openssl(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(key), "-out", str(csr))  # fmt: skip
        _openssl(openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
        return cert, key

    ca_cert, ca_key = ca("test-ca")
    other_ca, _ = ca("other-ca")
    server_cert, server_key = signed(
        "engine", ca_cert, ca_key, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    client_cert, client_key = signed("listing-search", ca_cert, ca_key, "extendedKeyUsage=clientAuth\n")
    for path in folder.iterdir():
        path.chmod(0o644)  # nginx's workers read what its master does not
    return Pki(ca_cert, server_cert, server_key, client_cert, client_key, other_ca)


@dataclass(frozen=True)
class TlsFront:
    base: str  # https://127.0.0.1:<port>, no credentials
    user: str
    password: str
    pki: Pki
    access_log: Path

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        """The front's URL with credentials in it, as OPENSEARCH_URL may carry them."""
        who = quote(user if user is not None else self.user, safe="")
        secret = quote(password if password is not None else self.password, safe="")
        return self.base.replace("https://", f"https://{who}:{secret}@")

    def ssl_context(self, *, client: bool = False) -> ssl.SSLContext:
        """What a client that trusts the test CA (and, with `client`, shows its certificate) uses."""
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        if client:
            context.load_cert_chain(str(self.pki.client_cert), str(self.pki.client_key))
        return context

    def statuses(self) -> list[int]:
        """The HTTP status of every request the front answered so far."""
        return [int(line.split()[0]) for line in self.access_log.read_text().splitlines() if line.strip()]


_CONF = """
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format status '$status $request_method $uri';
    access_log {folder}/access.log status;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 100m;
    upstream engine {{ server {upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        {client_tls}
        auth_basic "engine";
        auth_basic_user_file {folder}/htpasswd;
        location / {{
            proxy_pass http://engine;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"""


@contextmanager
def tls_front(
    upstream: str, folder: Path, *, user: str = "search", password: str = "pässword: 1", client_certs: bool = False
) -> Iterator[TlsFront]:
    """nginx on a free port, TLS and basic auth in front of `upstream` (host:port of a plain HTTP
    engine); with `client_certs`, a client certificate signed by the test CA is required too."""
    nginx = debian_program("nginx", "nginx")
    openssl = debian_program("openssl", "openssl")
    pki = make_pki(folder / "pki")
    hashed = subprocess.run(
        [openssl, "passwd", "-apr1", password], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()
    (folder / "htpasswd").write_text(f"{user}:{hashed}\n")
    (folder / "htpasswd").chmod(0o644)
    port = free_port()
    client_tls = f"ssl_client_certificate {pki.ca};\n        ssl_verify_client on;" if client_certs else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        _CONF.format(
            folder=folder,
            upstream=upstream,
            port=port,
            cert=pki.server_cert,
            key=pki.server_key,
            client_tls=client_tls,
            # Workers read the htpasswd file at request time; as root, they would otherwise be nobody,
            # who cannot reach a test's temporary folder.
            user="user root root;" if os.geteuid() == 0 else "",
        )
    )
    (folder / "access.log").touch()
    proc = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    front = TlsFront(f"https://127.0.0.1:{port}", user, password, pki, folder / "access.log")
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                log = folder / "error.log"
                said = (proc.stderr.read() if proc.stderr else "") + (log.read_text() if log.exists() else "")
                raise AssertionError(f"nginx exited: {said}")
            try:
                httpx.get(
                    front.base, verify=front.ssl_context(client=client_certs), timeout=1
                )  # any answer: it listens
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        while not front.statuses():  # the probe's own entry is written just after its answer
            assert time.monotonic() < deadline, "nginx logged nothing"
            time.sleep(0.02)
        yield front
    finally:
        stop(proc, grace=10)
