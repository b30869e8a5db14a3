"""Promise 7: nobody reads or writes without a valid token when auth is on; TLS and mutual TLS
reject plaintext and certificate-less clients; IndexPath never reads outside its root.

Every method of every omnivec service is taken from the proto descriptors (so a method added
later is covered without touching this file) and called with raw request bytes: without a token,
with a wrong token and with a malformed header (UNAUTHENTICATED, and nothing written), over a
plaintext channel to a TLS server, and without a client certificate to an mTLS server (the call
fails before reaching any handler). Health answers without a token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from omnivec.client import Client, Media, PermissionDenied, TlsOptions, UpsertItem
from omnivec.v1 import collections_pb2, indexing_pb2
from tests.support.certificates import make_certificates
from tests.support.reliability import in_process_server, omnivec_methods, raw_call, record, rpc_code

pytestmark = pytest.mark.reliability

TOKEN = "reliability-token"
COUNT = {"calls": 0}


def _code(call: Any, *args: Any, **kwargs: Any) -> grpc.StatusCode:
    COUNT["calls"] += 1
    try:
        call(*args, **kwargs)
    except grpc.RpcError as exc:
        return rpc_code(exc)
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def secured(
    settings: Any, models: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("secured")
    tokens = folder / "tokens"
    tokens.write_text(TOKEN + "\n")
    root = folder / "root"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "inside.txt").write_text("a note that lives inside the index root")
    outside = folder / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("hunter2 is the admin password")
    with in_process_server(
        settings, models, folder / "data", tokens_file=tokens, index_root=root
    ) as (_srv, target):
        with Client(target, token=TOKEN, retries=0, timeout=120) as client:
            client.create_collection("guarded", ["text"])
            client.upsert("guarded", [UpsertItem(Media(text="guarded content"), id="g1")])
            yield {"target": target, "client": client, "root": root, "outside": outside}


@pytest.mark.parametrize(
    "metadata",
    [None, [("authorization", "Bearer wrong-token")], [("authorization", "Basic " + TOKEN)],
     [("authorization", "Bearer")], [("authorization", TOKEN)]],
    ids=["no-token", "wrong-token", "wrong-scheme", "empty-bearer", "bare-token"],
)
def test_every_method_refuses_calls_without_a_valid_token(
    secured: dict[str, Any], metadata: list[tuple[str, str]] | None
) -> None:
    methods = omnivec_methods()
    assert len(methods) >= 15
    with grpc.insecure_channel(secured["target"]) as channel:
        for method in methods:
            code = _code(raw_call, channel, method, b"", timeout=30, metadata=metadata)
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{method.full_name}: {code}"
        # Reflection describes the whole API: it needs a token too.
        reflection = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b, response_deserializer=lambda b: b,
        )
        assert _code(lambda: list(reflection(iter([b""]), timeout=30, metadata=metadata))) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        # Writes that look valid change nothing.
        create = collections_pb2.CreateCollectionRequest(name="sneaky", spaces=["text"])
        upsert = indexing_pb2.UpsertRequest(
            collection="guarded", item=indexing_pb2.UpsertItem(id="sneaky", media={"text": "x"})
        )
        delete = collections_pb2.DeleteCollectionRequest(name="guarded")
        by_name = {m.name: m for m in methods}
        for name, message in (("CreateCollection", create), ("Upsert", upsert),
                              ("DeleteCollection", delete)):
            code = _code(raw_call, channel, by_name[name], message.SerializeToString(),
                         timeout=30, metadata=metadata)
            assert code == grpc.StatusCode.UNAUTHENTICATED
    with Client(secured["target"], retries=0, timeout=10) as anonymous:
        assert anonymous.health() == "SERVING", "health needs no token"
    client = secured["client"]
    assert [c.name for c in client.list_collections()] == ["guarded"]
    assert client.get_collection("guarded").item_count == 1


def test_the_valid_token_gets_past_auth_on_every_method(secured: dict[str, Any]) -> None:
    metadata = [("authorization", f"Bearer {TOKEN}")]
    with grpc.insecure_channel(secured["target"]) as channel:
        for method in omnivec_methods():
            code = _code(raw_call, channel, method, b"", timeout=60, metadata=metadata)
            assert code != grpc.StatusCode.UNAUTHENTICATED, method.full_name


# --- TLS and mutual TLS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_servers(
    settings: Any, models: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:

    folder = tmp_path_factory.mktemp("tls")
    pems = make_certificates(folder)
    with in_process_server(settings, models, folder / "tls-data",
                           tls_cert=pems["server_cert"], tls_key=pems["server_key"]) as (_a, tls):
        with in_process_server(settings, models, folder / "mtls-data",
                               tls_cert=pems["server_cert"], tls_key=pems["server_key"],
                               tls_client_ca=pems["ca"]) as (_b, mtls):
            yield {"tls": tls, "mtls": mtls, "pems": pems}


def _channel_credentials(pems: dict[str, Path], with_client_cert: bool) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=pems["ca"].read_bytes(),
        private_key=pems["client_key"].read_bytes() if with_client_cert else None,
        certificate_chain=pems["client_cert"].read_bytes() if with_client_cert else None,
    )


OVERRIDE = [("grpc.ssl_target_name_override", "localhost")]


def test_plaintext_clients_cannot_talk_to_a_tls_server(tls_servers: dict[str, Any]) -> None:
    for target in (tls_servers["tls"], tls_servers["mtls"]):
        with grpc.insecure_channel(target) as channel:
            for method in omnivec_methods():
                code = _code(raw_call, channel, method, b"", timeout=5)
                assert code == grpc.StatusCode.UNAVAILABLE, f"{method.full_name}: {code}"
    with grpc.secure_channel(
        tls_servers["tls"], _channel_credentials(tls_servers["pems"], False), options=OVERRIDE
    ) as channel:
        by_name = {m.name: m for m in omnivec_methods()}
        assert _code(raw_call, channel, by_name["ListCollections"], b"", timeout=30) == (
            grpc.StatusCode.OK
        )


def test_mutual_tls_refuses_clients_without_a_certificate(
    tls_servers: dict[str, Any], tmp_path: Path
) -> None:
    pems = tls_servers["pems"]
    with grpc.secure_channel(
        tls_servers["mtls"], _channel_credentials(pems, False), options=OVERRIDE
    ) as channel:
        for method in omnivec_methods():
            code = _code(raw_call, channel, method, b"", timeout=5)
            assert code == grpc.StatusCode.UNAVAILABLE, f"{method.full_name}: {code}"
    trust = TlsOptions.from_files(
        root_cert=pems["ca"], client_cert=pems["client_cert"], client_key=pems["client_key"],
        server_name_override="localhost",
    )
    with Client(tls_servers["mtls"], tls=trust, retries=0, timeout=30) as client:
        assert client.list_collections() == []
    # A client certificate from another CA is refused too.

    other = make_certificates(tmp_path)
    with grpc.secure_channel(tls_servers["mtls"], grpc.ssl_channel_credentials(
        root_certificates=pems["ca"].read_bytes(),
        private_key=other["client_key"].read_bytes(),
        certificate_chain=other["client_cert"].read_bytes(),
    ), options=OVERRIDE) as channel:
        by_name = {m.name: m for m in omnivec_methods()}
        assert _code(raw_call, channel, by_name["ListCollections"], b"", timeout=5) == (
            grpc.StatusCode.UNAVAILABLE
        )


# --- IndexPath jail ---------------------------------------------------------------------------------


def test_index_path_never_reads_outside_its_root(secured: dict[str, Any]) -> None:
    client, root, outside = secured["client"], secured["root"], secured["outside"]
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)
    (root / "notes" / "escape-file.txt").symlink_to(outside / "secret.txt")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "manifest.jsonl").write_text(
        '{"path": "%s", "id": "leak"}\n' % (outside / "secret.txt")
    )
    refused = [
        "..", "../..", "../outside", "notes/../../outside/secret.txt", "/etc", "/etc/passwd", "/",
        str(outside), str(outside / "secret.txt"), "escape-dir", "escape-dir/secret.txt",
        "notes/escape-file.txt", "notes/../..", "./../outside",
    ]
    for path in refused:
        with pytest.raises(PermissionDenied, match="outside"):
            list(client.index_path("jail", path))
        COUNT["calls"] += 1
    # A folder walk skips (and reports) links that lead out; a manifest listing outside files is
    # refused as a whole; a link loop inside the root terminates.
    events = list(client.index_path("jail", ".", recursive=True))
    final = events[-1]
    reasons = {f.path: f.reason for e in events for f in e.failures}
    assert "escape-dir" in reasons and "notes/escape-file.txt" in reasons, reasons
    assert any("manifest" in p or "manifest" in r for p, r in reasons.items()), reasons
    assert final.indexed == 1, final  # notes/inside.txt only
    hits = client.search("jail", text="admin password", k=5)
    assert all("hunter2" not in (h.span.text if h.span else "") for h in hits)
    # An absolute path inside the root is fine; a NUL byte is a bad argument, not a crash.
    assert list(client.index_path("jail", str(root / "notes")))[-1].is_final
    with pytest.raises(Exception) as nul:
        list(client.index_path("jail", "notes\x00/../../etc"))
    assert rpc_code(nul.value) in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED)
    COUNT["calls"] += 3


def test_zz_record() -> None:
    record("auth_tls_paths", calls=COUNT["calls"], methods=len(omnivec_methods()))
