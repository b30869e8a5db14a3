"""Throwaway TLS material for the TLS and mutual-TLS tests, made with `cryptography`."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def build(subject: str, key: Any, issuer: x509.Name, signer: Any, *, ca: bool,
              extra: list[tuple[Any, bool]]) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        for extension, critical in extra:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("omnivec test CA", ca_key, name("omnivec test CA"), ca_key, ca=True, extra=[])
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = build("localhost", server_key, ca.subject, ca_key, ca=False, extra=[
        (x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = build("omnivec test client", client_key, ca.subject, ca_key, ca=False, extra=[
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])

    def write(file: str, data: bytes) -> Path:
        path = folder / file
        path.write_bytes(data)
        return path

    def key_pem(key: Any) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    return {
        "ca": write("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
        "server_cert": write("server.pem", server.public_bytes(serialization.Encoding.PEM)),
        "server_key": write("server.key", key_pem(server_key)),
        "client_cert": write("client.pem", client.public_bytes(serialization.Encoding.PEM)),
        "client_key": write("client.key", key_pem(client_key)),
    }
