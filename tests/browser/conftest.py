"""Browser tests: Debian's Chromium driven by Playwright (the system browser, through
``executable_path``: Playwright's own browser download is not reachable here), against a real
omnivec server with its HTTP edge on a free port, over the real engine and models.

A failed test leaves a screenshot of its page in ``test-artifacts/browser/``. With
``OMNIVEC_DOCS_SCREENSHOTS=DIR`` the tests also save the main screens there (how the README's
pictures in docs/screenshots were made: ``make screenshots``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.http_support import running_server, server_settings
from tests.support.paths import REPO, SAMPLES, SPEECH

CHROMIUM = Path(os.environ.get("OMNIVEC_CHROMIUM", "/usr/bin/chromium"))
# The flags ENVIRONMENT.md gives for this sandboxed, offline machine (as root, no network): the
# background-networking ones stop Chromium from trying hosts it cannot reach at every start.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-audio-capture={SPEECH / 'weather.wav'}",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
COLLECTION = "demo"
HOSTILE_NOTE = 'Ticket: <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> printer jam'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web-root")
    for folder in ("images", "texts", "audio"):
        shutil.copytree(SAMPLES / folder, root / folder)
    shutil.copy(SPEECH / "long_lecture.ogg", root / "audio" / "long_lecture.ogg")
    (root / "texts" / "hostile.txt").write_text(HOSTILE_NOTE)
    return root


@pytest.fixture(scope="module")
def web(settings: Any, models: Any, index_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server holding the sample set (and a long lecture cut into 12-second chunks)."""
    cfg = server_settings(settings, tmp_path_factory.mktemp("web-data"), index_root=index_root)
    cfg = cfg.model_copy(update={"index": cfg.index.model_copy(update={
        "audio_chunk_seconds": 12.0, "audio_chunk_overlap_seconds": 2.0,
    })})
    with running_server(cfg, models) as server:
        report = server.engine.index_paths(COLLECTION, [index_root], recursive=True)
        assert not report.failed, report.failed
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser: Any, web: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=web.http_url)
    context.grant_permissions(["microphone"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Works offline: every request the page makes goes to the server itself (no CDN, no fonts).
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((web.http_url, "blob:", "data:"))
            else elsewhere.append(r.url))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"the page raised: {errors}"
    assert not elsewhere, f"the page reached beyond the server: {elsewhere}"


def docs_screenshot(page: Any, name: str) -> None:
    """Saves a main screen for the README when OMNIVEC_DOCS_SCREENSHOTS names a folder."""
    folder = os.environ.get("OMNIVEC_DOCS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
