"""The credentials a throwaway control plane needs, made fresh for every start: a CA and the API server's
serving certificate signed by it, the service-account signing key, and static bearer tokens.

Nothing here is meant to outlive the sandbox: keys are unencrypted files readable by their owner only.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

# What clients dial: loopback, and the names and first service IP in-cluster clients would use.
SERVICE_IP = "10.0.0.1"
SERVING_IPS = ("127.0.0.1", "::1", SERVICE_IP)
SERVING_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    service_account_public_key: Path
    token_file: Path
    admin_token: str
    controller_manager_token: str

    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signing_key = issuer if issuer is not None else (name, key)
    # A minute of slack so a clock that ticks slightly differently in a child process still accepts it.
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        ).add_extension(x509.SubjectAlternativeName(sans or []), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def generate(directory: Path) -> Pki:
    """Write a fresh set of credentials into `directory` (created, owner-only)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("twilio-operator-sandbox-ca", ca_key, None, ca=True)
    serving_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVING_IPS]
    sans += [x509.DNSName(dns) for dns in SERVING_NAMES]
    serving_cert = _certificate("kube-apiserver", serving_key, (ca_cert.subject, ca_key), ca=False, sans=sans)
    # kube-apiserver signs service-account tokens with RS256 unless told otherwise; RSA keeps it default.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki = Pki(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        service_account_key=directory / "sa.key",
        service_account_public_key=directory / "sa.pub",
        token_file=directory / "tokens.csv",
        admin_token=secrets.token_urlsafe(32),
        controller_manager_token=secrets.token_urlsafe(32),
    )
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.serving_cert.write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki.serving_key, _pem_key(serving_key))
    _write_private(pki.service_account_key, _pem_key(sa_key))
    pki.service_account_public_key.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    # --token-auth-file: token,user,uid,"groups". The admin is in system:masters, like a cluster's admin
    # kubeconfig; the controller manager is the user its bootstrap RBAC role is bound to.
    _write_private(
        pki.token_file,
        (
            f'{pki.admin_token},sandbox-admin,sandbox-admin,"system:masters"\n'
            f"{pki.controller_manager_token},system:kube-controller-manager,system:kube-controller-manager\n"
        ).encode(),
    )
    return pki
