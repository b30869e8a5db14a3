"""The HTTP edge keeps the gRPC server's promises: the same tokens (401 on every route but the
static assets), the same TLS and mutual TLS, the same limits (413, 429), and nothing outside the
roots is ever served (no path traversal through any URL)."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnivec.client import Client, Media, Unauthenticated, UpsertItem
from tests.server.http_support import running_server, server_settings
from tests.support.certificates import make_certificates
from tests.support.paths import SAMPLES, SPEECH

TOKEN = "http-token"
COLLECTION = "guarded"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("edge")
    root = base / "root"
    root.mkdir()
    shutil.copy(SPEECH / "weather.wav", root / "weather.wav")
    (base / "secret.wav").write_bytes((SPEECH / "cooking.wav").read_bytes())
    (base / "secret.txt").write_text("not for the web")
    os.symlink(base / "secret.wav", root / "link-out.wav")
    return root


@pytest.fixture(scope="module")
def guarded(settings: Any, models: Any, root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("edge-config")
    tokens = folder / "tokens"
    tokens.write_text(f"# comment\nother-token\n{TOKEN}\n")
    cfg = server_settings(
        settings, folder / "data", tokens_file=tokens, index_root=root,
        max_message_bytes=16 * 1024, max_items_per_request=2,
    )
    with running_server(cfg, models) as server:
        eng = server.engine
        eng.create_collection(COLLECTION, ["clip", "text"])
        eng.index_paths(COLLECTION, [root / "weather.wav", root / "link-out.wav"])
        # Items whose recorded source tries to lead out of the root.
        from omnivec.indexer.discovery import IngestItem
        from omnivec.indexer.media import MediaKind

        clip = (SPEECH / "rocket.wav").read_bytes()
        eng.upsert(COLLECTION, [
            IngestItem(label="a", modality=MediaKind.AUDIO, data=clip, item_id="dotdot",
                       source_uri="../secret.wav"),
            IngestItem(label="b", modality=MediaKind.AUDIO, data=clip + b"\0", item_id="absolute",
                       source_uri=str(root.parent / "secret.wav")),
        ])
        yield server


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) of the API as its OpenAPI document lists it, parameters filled in."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        concrete = path.replace("{name}", COLLECTION).replace("{collection}", COLLECTION)
        out.extend((method.upper(), concrete) for method in operations)
    return out


def test_every_api_route_needs_the_token(guarded: Any) -> None:
    routes = _routes(guarded.http.app)
    assert len(routes) >= 20
    with httpx.Client(base_url=guarded.http_url, timeout=30) as http:
        for method, path in routes:
            for headers, words in (({}, "missing credentials"),
                                   (_auth("wrong"), "invalid token"),
                                   ({"authorization": "Basic abc"}, "malformed")):
                response = http.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, response.text)
                error = response.json()["error"]
                assert error["status"] == "UNAUTHENTICATED" and words in error["message"]
                assert response.headers["www-authenticate"] == "Bearer"
        # Not even an unknown collection or route is told apart without a token.
        assert http.get("/api/collections/does-not-exist").status_code == 401
        assert http.get("/api/no-such-route").status_code == 401
        # Static assets, the docs and health need none.
        for path in ("/", "/static/app.css", "/static/js/main.js", "/docs", "/openapi.json", "/healthz",
                     "/docs-static/swagger-ui.css"):
            assert http.get(path).status_code == 200, path
        # Both configured tokens work, as over gRPC.
        for token in (TOKEN, "other-token"):
            assert COLLECTION in [c["name"] for c in http.get("/api/collections", headers=_auth(token)).json()]
    # The same tokens and words over gRPC.
    with Client(f"127.0.0.1:{guarded.port}", retries=0) as anonymous:
        with pytest.raises(Unauthenticated, match="missing credentials"):
            anonymous.list_collections()


def test_oversized_bodies_get_413_and_too_many_items_413(guarded: Any) -> None:
    big = (SAMPLES / "images" / "hubble_deep_field.jpg").read_bytes()
    assert len(big) > 16 * 1024
    with httpx.Client(base_url=guarded.http_url, headers=_auth(), timeout=30) as http:
        url = f"/api/collections/{COLLECTION}/search/media"
        declared = http.post(url, files={"image": ("big.jpg", big, "image/jpeg")})
        assert declared.status_code == 413
        assert "max_message_bytes" in declared.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
            boundary = b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"b.jpg\"\r\n\r\n"
            yield boundary
            for start in range(0, len(big), 8192):
                yield big[start:start + 8192]
            yield b"\r\n--xyz--\r\n"

        streamed = http.post(url, content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"})
        assert streamed.status_code == 413 and streamed.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        many = http.post(f"/api/collections/{COLLECTION}/items", data={"text": ["a", "b", "c"]})
        assert many.status_code == 413 and "limit of 2" in many.json()["error"]["message"]
        long_query = http.post(f"/api/collections/{COLLECTION}/search", json={"text": "x" * 20_000})
        assert long_query.status_code == 413  # over the body limit before the query-text limit


def test_more_requests_in_flight_than_allowed_get_429() -> None:
    """The edge's own counter, with a route that waits until the test lets it go."""
    from omnivec.server.http.edge import EdgeMiddleware

    async def scenario() -> list[int]:
        release = asyncio.Event()

        async def slow_app(scope: Any, receive: Any, send: Any) -> None:
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        edge = EdgeMiddleware(slow_app, tokens=None, max_body_bytes=1024, max_in_flight=2)
        transport = httpx.ASGITransport(app=edge)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
            first = [asyncio.create_task(http.get("/api/collections")) for _ in range(2)]
            while edge.in_flight < 2:
                await asyncio.sleep(0.01)
            third = await http.get("/api/collections")
            static = asyncio.create_task(http.get("/static/app.css"))  # assets are not counted
            release.set()
            done = [r.status_code for r in await asyncio.gather(*first, static)]
            assert third.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
            assert "max_concurrent_rpcs" in third.json()["error"]["message"]
            return [third.status_code, *done]

    assert asyncio.run(scenario()) == [429, 200, 200, 200]


def test_nothing_outside_the_roots_is_ever_served(guarded: Any, root: Path) -> None:
    items = {i: s for i, (_, s) in guarded.engine.collection(COLLECTION).item_index().items()}
    weather = next(i for i, s in items.items() if s.endswith("weather.wav"))
    # Indexed through the link: recorded as the link or as the file it leads to, outside either way.
    linked = next(i for i, s in items.items() if s.endswith(("link-out.wav", "secret.wav")))
    with httpx.Client(base_url=guarded.http_url, headers=_auth(), timeout=30) as http:
        audio = f"/api/collections/{COLLECTION}/audio"
        assert http.get(audio, params={"id": weather}).content == (root / "weather.wav").read_bytes()
        for item in (linked, "dotdot", "absolute"):  # a link, "..", an absolute path: all lead out
            refused = http.get(audio, params={"id": item})
            assert refused.status_code == 404, item
            assert "index root" in refused.json()["error"]["message"]
        for item in ("../secret.wav", "../../etc/passwd", "/etc/passwd", "%2e%2e/secret.wav"):
            assert http.get(audio, params={"id": item}).status_code == 404
            assert http.get(f"/api/collections/{COLLECTION}/thumbnail", params={"id": item}).status_code == 404
        # Traversal through the static and docs mounts and the collection name.
        for path in ("/static/../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                     "/static/..%2f..%2fsecret.txt", "/docs-static/../../secret.txt",
                     "/static/js/../../app.py", "/static/%2e%2e%2fapp.py"):
            response = http.get(path)
            assert response.status_code == 404, path
            assert b"not for the web" not in response.content and b"import" not in response.content
        for name in ("..", "..%2f..%2fetc", "%2e%2e"):
            response = http.get(f"/api/collections/{name}/audio", params={"id": weather})
            assert response.status_code in (400, 404), name


def test_tls_and_mutual_tls_over_http(settings: Any, models: Any, guarded: Any, tmp_path: Path) -> None:
    pems = make_certificates(tmp_path)
    data_dir = guarded.engine.settings.data_dir
    tls_cfg = server_settings(settings, data_dir, tls_cert=pems["server_cert"], tls_key=pems["server_key"])
    mtls_cfg = server_settings(settings, data_dir, tls_cert=pems["server_cert"], tls_key=pems["server_key"],
                               tls_client_ca=pems["ca"])
    trust = ssl.create_default_context(cafile=str(pems["ca"]))
    trust.check_hostname = False
    with running_server(tls_cfg, models, engine=guarded.engine) as tls:
        assert tls.http_url.startswith("https://")
        with httpx.Client(verify=trust, timeout=30) as https:
            assert COLLECTION in [c["name"] for c in https.get(tls.http_url + "api/collections").json()]
        with pytest.raises(httpx.HTTPError):  # plaintext to a TLS port
            httpx.get(tls.http_url.replace("https://", "http://") + "api/collections", timeout=5)
    with running_server(mtls_cfg, models, engine=guarded.engine) as mtls:
        with_cert = ssl.create_default_context(cafile=str(pems["ca"]))
        with_cert.check_hostname = False
        with_cert.load_cert_chain(str(pems["client_cert"]), str(pems["client_key"]))
        with httpx.Client(verify=with_cert, timeout=30) as https:
            assert https.get(mtls.http_url + "api/collections").status_code == 200
        with pytest.raises(httpx.HTTPError):  # no client certificate
            with httpx.Client(verify=trust, timeout=5) as no_cert:
                no_cert.get(mtls.http_url + "api/collections")


def test_upsert_limit_applies_to_json_too(guarded: Any) -> None:
    with httpx.Client(base_url=guarded.http_url, headers=_auth(), timeout=30) as http:
        items = [{"text": f"note {i}"} for i in range(3)]
        response = http.post(f"/api/collections/{COLLECTION}/items/json", json={"items": items})
        assert response.status_code == 413
    with Client(f"127.0.0.1:{guarded.port}", token=TOKEN, retries=0) as grpc_client:
        assert grpc_client.upsert(COLLECTION, [UpsertItem(Media(text="note over gRPC"))])[0].status == "ok"
