"""Authentication and transport security: a bearer token and TLS / mutual-TLS options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from omnivec.client.errors import InvalidArgument

AUTHORIZATION_KEY = "authorization"


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying the token as ``authorization: Bearer <token>``.

    Sent as per-call metadata rather than call credentials because gRPC refuses call credentials
    on an insecure channel, and a local server without TLS is the common case; with TLS the
    header is encrypted like any other.
    """
    if token is None:
        return ()
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise InvalidArgument("token must be a non-empty string without whitespace")
    return ((AUTHORIZATION_KEY, f"Bearer {token}"),)


@dataclass(frozen=True)
class TlsOptions:
    """TLS for the channel. With no root certificates the system roots are used; give a client
    certificate chain and its private key together for mutual TLS."""

    root_certificates: bytes | None = field(default=None, repr=False)
    certificate_chain: bytes | None = field(default=None, repr=False)
    private_key: bytes | None = field(default=None, repr=False)
    server_name_override: str | None = None
    """Expected server name when it differs from the target host (e.g. a test certificate)."""

    def __post_init__(self) -> None:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise InvalidArgument(
                "mutual TLS needs both certificate_chain and private_key, or neither"
            )

    @classmethod
    def from_files(
        cls,
        *,
        root_cert: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
        server_name_override: str | None = None,
    ) -> TlsOptions:
        """Reads PEM files."""

        def read(path: str | os.PathLike[str] | None) -> bytes | None:
            return None if path is None else Path(path).read_bytes()

        return cls(read(root_cert), read(client_cert), read(client_key), server_name_override)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )
