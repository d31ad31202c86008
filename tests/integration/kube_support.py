"""A real etcd + kube-apiserver for tests, started the way envtest starts them.

``TestCluster.start(bin_dir, workdir)`` writes three independent credentials
(a serving CA and the apiserver's certificate, a client CA and an admin
client certificate in ``system:masters``, a service-account key pair),
starts etcd and kube-apiserver on free loopback ports in their own sessions
with their logs in ``workdir``, waits for ``/readyz`` and the ``default``
namespace, and writes an admin kubeconfig. No kubelet and no controllers run:
Jobs never get Pods and deleted owners do not cascade (see
shared/reference/k8s-integration-testing.md, section 4).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tools" / "k8s" / "build.sh"
START_TIMEOUT = 60.0


#: The credentials the test dashboard runs with (kube/conftest.py's ``dashboard``).
DASHBOARD_TOKEN = "cluster-dashboard-token"
INGEST_KEY = "cluster-ingest-key"


def k8s_bin_dir() -> Path:
    """The cached test binaries (built on first use by tools/k8s/build.sh, minutes cold)."""
    override = os.environ.get("FACTORYOS_K8S_ASSETS")
    if override:
        return Path(override)
    done = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tools/k8s/build.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def helm_bin() -> Path:
    """helm at the pinned version (built on first use by tools/k8s/helm.sh)."""
    done = subprocess.run(
        ["bash", str(ROOT / "tools" / "k8s" / "helm.sh")], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"tools/k8s/helm.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class _CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def new(cls, name: str) -> _CA:
        key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self, cn: str, orgs: list[str], *, server: bool
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = _key()
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        return key, builder.sign(self.key, hashes.SHA256())


@dataclass
class TestCluster:
    """etcd and kube-apiserver processes, and the admin kubeconfig to reach them."""

    workdir: Path
    kubeconfig: Path
    server: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _clients: _CA | None = None
    _serving_ca: bytes = b""
    __test__ = False  # not a pytest test class

    @classmethod
    def start(cls, bins: Path, workdir: Path) -> TestCluster:
        workdir.mkdir(parents=True, exist_ok=True)
        certs = workdir / "certs"
        certs.mkdir(exist_ok=True)
        serving, clients = _CA.new("factoryos-test-serving"), _CA.new("factoryos-test-clients")
        server_key, server_cert = serving.issue("localhost", [], server=True)
        admin_key, admin_cert = clients.issue("admin", ["system:masters"], server=False)
        sa_key = _key()
        files = {
            "serving-ca.crt": _pem_cert(serving.cert),
            "apiserver.crt": _pem_cert(server_cert),
            "apiserver.key": _pem_key(server_key),
            "client-ca.crt": _pem_cert(clients.cert),
            "sa.key": _pem_key(sa_key),
            "sa.pub": sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        }
        for name, data in files.items():
            (certs / name).write_bytes(data)

        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        server = f"https://127.0.0.1:{api_port}"
        cluster = cls(workdir, workdir / "kubeconfig", server)
        cluster._clients, cluster._serving_ca = clients, files["serving-ca.crt"]
        cluster._spawn(
            "etcd",
            [
                str(bins / "etcd"),
                f"--data-dir={workdir / 'etcd-data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        cluster._wait(f"{etcd_url}/health", "etcd", None)
        cluster._spawn(
            "kube-apiserver",
            [
                str(bins / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--tls-cert-file={certs / 'apiserver.crt'}",
                f"--tls-private-key-file={certs / 'apiserver.key'}",
                f"--client-ca-file={certs / 'client-ca.crt'}",
                f"--service-account-issuer={server}/",
                f"--service-account-key-file={certs / 'sa.pub'}",
                f"--service-account-signing-key-file={certs / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
            ],
        )
        context = ssl.create_default_context(cafile=str(certs / "serving-ca.crt"))
        cluster._wait(f"{server}/readyz", "kube-apiserver", context)
        cluster._write_kubeconfig(cluster.kubeconfig, admin_key, admin_cert)
        return cluster

    def user_kubeconfig(self, user: str, groups: list[str]) -> Path:
        """A kubeconfig for another identity (a client certificate: CN user, O groups)."""
        assert self._clients is not None
        key, cert = self._clients.issue(user, groups, server=False)
        path = self.workdir / f"kubeconfig-{user.replace(':', '-')}"
        self._write_kubeconfig(path, key, cert)
        return path

    def _write_kubeconfig(
        self, path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
    ) -> None:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": _b64(self._serving_ca),
                    },
                }
            ],
            "users": [
                {
                    "name": "user",
                    "user": {
                        "client-certificate-data": _b64(_pem_cert(cert)),
                        "client-key-data": _b64(_pem_key(key)),
                    },
                }
            ],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user"}}],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(kubeconfig))

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes.append(
            subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        )

    def _wait(self, url: str, name: str, context: ssl.SSLContext | None) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.processes[-1].poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - our own loopback URL
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{name} did not become ready at {url}:\n{tail}")

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.processes.clear()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def identity_kubeconfig(cluster: TestCluster, bins: Path, rbac: Path, service_account: str) -> Path:
    """A kubeconfig for ``service_account`` in factoryos-system, its RBAC applied as shipped."""
    kubectl_at(bins, cluster.kubeconfig, "apply", "-f", str(ROOT / "manifests/namespace.yaml"))
    kubectl_at(bins, cluster.kubeconfig, "apply", "-f", str(rbac))
    groups = ["system:serviceaccounts", "system:serviceaccounts:factoryos-system"]
    user = f"system:serviceaccount:factoryos-system:{service_account}"
    return cluster.user_kubeconfig(user, groups)


def kubectl_at(
    bins: Path, kubeconfig: Path, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(bins / "kubectl"), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True, text=True, input=stdin, timeout=60,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


class Kubectl:
    """kubectl against the test cluster, in the test's namespace."""

    def __init__(self, bins: Path, kubeconfig: Path, namespace: str) -> None:
        self.bins, self.kubeconfig, self.namespace = bins, kubeconfig, namespace

    def __call__(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return kubectl_at(
            self.bins, self.kubeconfig, f"--namespace={self.namespace}", *args,
            check=check, stdin=stdin,
        )  # fmt: skip
