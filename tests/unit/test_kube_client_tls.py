"""The operator's own Kubernetes client trusts what the kubeconfig says, in every form kubectl writes it.

A kubeconfig's `certificate-authority-data` is base64 of the PEM; kopf passes it on as it is, and the client
once loaded it as PEM text, failing every request it made itself on any cluster with a CA in its kubeconfig
(found when the end-to-end suite first ran on a real kube-apiserver)."""

from __future__ import annotations

import base64
import datetime
import ssl
from pathlib import Path

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from twilio_operator.kube.client import _ssl_context


def certificate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def trusted(context: ssl.SSLContext | bool) -> int:
    assert isinstance(context, ssl.SSLContext)
    return len(context.get_ca_certs())


def test_ca_data_as_base64_or_pem_and_client_certificate_data(tmp_path: Path) -> None:
    pem, key = certificate()
    for ca_data in (base64.b64encode(pem).decode(), pem.decode(), pem):
        info = kopf.ConnectionInfo(server="https://127.0.0.1:6443", ca_data=ca_data)
        assert trusted(_ssl_context(info)) >= 1
    info = kopf.ConnectionInfo(
        server="https://127.0.0.1:6443",
        ca_data=base64.b64encode(pem).decode(),
        certificate_data=base64.b64encode(pem).decode(),
        private_key_data=base64.b64encode(key).decode(),
    )
    assert trusted(_ssl_context(info)) >= 1


def test_plain_http_and_insecure_need_no_context() -> None:
    assert _ssl_context(kopf.ConnectionInfo(server="http://127.0.0.1:8080")) is False
    assert _ssl_context(kopf.ConnectionInfo(server="https://127.0.0.1:6443", insecure=True)) is False
