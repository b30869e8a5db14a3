"""The web app in a real browser: what a user does on each screen, checked on what the page shows."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import COLLECTION, docs_screenshot
from tests.server.http_support import running_server, server_settings
from tests.support.paths import SAMPLES

pytestmark = pytest.mark.browser

RESULTS = "#results .hit"


def searches(page: Any) -> int:
    """How many searches the page has completed (the app counts them on #results)."""
    return int(page.evaluate("() => Number(document.querySelector('#results').dataset.searches || 0)"))


def wait_for_hits(page: Any, count: int | None = None, *, after: int = 0) -> list[Any]:
    """The hit cards once more than ``after`` searches have completed (0: after a page load)."""
    page.wait_for_function(
        "(after) => Number(document.querySelector('#results').dataset.searches || 0) > after",
        arg=after,
    )
    hits = page.locator(RESULTS).all()
    if count is not None:
        assert len(hits) == count
    return hits


def test_collections_page_shows_counts_spaces_and_size(page: Any) -> None:
    page.goto("/")
    row = page.locator(f"#collections-table tr[data-collection='{COLLECTION}']")
    text = row.inner_text()
    assert "image 6" in text and "audio 4" in text
    assert "clip" in text and "text" in text and "all-MiniLM-L6-v2" in text
    assert re.search(r"\d+(\.\d)? (KB|MB)", text)
    docs_screenshot(page, "collections")
    row.locator("a").click()
    page.wait_for_url(re.compile(rf"\?c={COLLECTION}$"))
    page.locator("#search-view").wait_for(state="visible")
    assert page.locator("#collections-view").is_hidden()


def test_text_search_from_the_url_shows_thumbnails_and_survives_a_reload(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}&q=a+photo&mod=image")  # no user action: the URL's query runs
    hits = wait_for_hits(page, 6)
    assert all(h.get_attribute("data-modality") == "image" for h in hits)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img.thumb')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    first_ids = [h.get_attribute("data-id") for h in hits]
    assert page.locator("#query").input_value() == "a photo"
    assert not page.locator("input[value=text]").is_checked()
    # Score and space on hover.
    hits[0].hover()
    assert re.search(r"score [+-]\d\.\d{3} · space clip", hits[0].locator(".score").inner_text())
    assert "space clip" in (hits[0].get_attribute("title") or "")
    page.reload()
    assert [h.get_attribute("data-id") for h in wait_for_hits(page, 6)] == first_ids


def test_uploading_or_dropping_an_image_finds_the_same_photo_first(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}")
    wait_for_hits(page)  # the page's own first (empty) search
    before = searches(page)
    page.set_input_files("#image-input", str(SAMPLES / "images" / "cat.jpg"))
    hits = wait_for_hits(page, after=before)
    assert "cat.jpg" in hits[0].locator(".source").inner_text()
    assert "image query: cat.jpg" in page.locator("#media-query").inner_text()
    before = searches(page)
    data = base64.b64encode((SAMPLES / "images" / "rocket.jpg").read_bytes()).decode()
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'dropped-rocket.jpg', {type: 'image/jpeg'}));
            document.querySelector('#drop-zone').dispatchEvent(
                new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        data,
    )
    hits = wait_for_hits(page, after=before)
    assert "rocket.jpg" in hits[0].locator(".source").inner_text()
    docs_screenshot(page, "image-search")


def test_an_audio_hit_plays_from_its_start(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}&q=chess+queen+checkmate+king&mod=audio")
    hits = wait_for_hits(page)
    top = hits[0]
    assert "long_lecture.ogg" in top.locator(".source").inner_text()
    assert "chess" in top.locator(".transcript").inner_text().lower()
    start = float(top.locator("audio").get_attribute("data-start") or "0")
    assert start > 10  # the chess part is near the end of the lecture
    docs_screenshot(page, "audio-search")
    top.locator("button.play").click()
    page.wait_for_function(
        """(start) => {
            const audio = document.querySelector('#results .hit audio');
            return !audio.paused && audio.currentTime >= start && audio.currentTime < start + 5;
        }""",
        arg=start,
    )


def test_recording_a_spoken_query_searches_with_its_transcript(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}")
    wait_for_hits(page)  # the page's own first (empty) search
    before = searches(page)
    page.click("#record-button")  # Chromium's fake microphone plays weather.wav
    page.wait_for_timeout(5000)
    page.click("#record-button")
    hits = wait_for_hits(page, after=before)
    assert "heard" in page.locator("#search-status").inner_text()
    assert hits


def test_a_bad_filter_shows_the_servers_error_inline(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}&q=coffee")
    wait_for_hits(page)
    before = searches(page)
    page.fill("#where", "priority = = 'high'")
    page.locator("#where").press("Enter")
    error = page.locator("#search-error")
    error.wait_for(state="visible")
    assert "INVALID_ARGUMENT" in error.inner_text() and "filter" in error.inner_text()
    assert page.locator(RESULTS).count() == 0
    before = searches(page)
    page.fill("#where", "priority = 'high'")
    page.locator("#where").press("Enter")
    hits = wait_for_hits(page, after=before)
    assert page.locator("#search-error").is_hidden()
    assert hits and "where=priority" in page.url


def test_text_from_the_data_is_shown_as_text_never_run(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}&q=ticket+printer+jam&mod=text")
    wait_for_hits(page)
    shown = page.locator("#results").inner_text()
    assert "<script>window.__pwned = 1</script>" in shown and "onerror=" in shown
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#results script, #results img[src=x]").count() == 0


def test_the_search_mode_is_chosen_on_the_page_and_kept_in_the_url(page: Any) -> None:
    """Words (keyword) mode finds only what holds the words, and says which ranking found it."""
    page.goto(f"/?c={COLLECTION}&q=espresso&mod=text")
    hybrid = [h.get_attribute("data-id") for h in wait_for_hits(page)]
    assert page.locator("#mode").input_value() == "hybrid"
    before = searches(page)
    page.locator("#mode").select_option("keyword")
    page.wait_for_url(re.compile(r"mode=keyword"))
    words = wait_for_hits(page, after=before)
    assert words and len(words) <= len(hybrid)
    for hit in words:
        assert "found by keyword #" in (hit.get_attribute("title") or "")
        assert "espresso" in hit.inner_text().lower()
    page.reload()
    assert len(wait_for_hits(page, after=0)) == len(words)  # the URL's mode ran on load
    assert page.locator("#mode").input_value() == "keyword"


def test_more_like_this_puts_the_item_in_the_url(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}&q=bread+dough&mod=text,audio")
    hits = wait_for_hits(page)
    docs_screenshot(page, "text-search")
    item = hits[0].get_attribute("data-id")
    before = searches(page)
    hits[0].locator("button.more").click()
    page.wait_for_url(re.compile(r"like="))
    assert item not in [h.get_attribute("data-id") for h in wait_for_hits(page, after=before)]
    before = searches(page)
    page.go_back()
    page.wait_for_url(re.compile(r"q=bread"))
    assert wait_for_hits(page, after=before)[0].get_attribute("data-id") == item


def test_label_hits_train_a_probe_apply_it_and_filter(page: Any) -> None:
    page.goto(f"/?c={COLLECTION}&q=coffee+espresso+machine&mod=text,audio")
    hits = wait_for_hits(page)
    for name in ("coffee", "other"):
        page.fill("#new-label", name)
        page.locator("#new-label").press("Enter")
    # Mouse for the first class, keyboard for the second.
    hits[0].click()
    hits[1].click()
    page.keyboard.press("1")
    hits[2].focus()
    page.keyboard.press("x")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("x")
    page.keyboard.press("2")
    assert page.locator("#example-count").inner_text() == "4"
    assert hits[0].locator(".label-badge").inner_text() == "coffee"
    assert hits[3].locator(".label-badge").inner_text() == "other"
    page.fill("#probe-name", "topic")
    page.click("#train-button")
    report = page.locator("#probe-report")
    report.wait_for(state="visible")
    text = report.inner_text()
    assert "topic v1" in text and "zero-shot" in text and "precision" in text
    assert page.locator("#probe-report svg.confusion rect.cell").count() == 4
    assert re.search(r"\d+\.\d%", page.locator(".accuracy").inner_text())
    docs_screenshot(page, "probe-report")
    page.click("#apply-button")
    page.locator("#filter-label").wait_for(state="visible")
    applied = page.locator("#apply-result").inner_text()
    counts = dict(re.findall(r"(coffee|other) (\d+)", applied))
    assert counts, applied
    label = next(iter(counts))
    before = searches(page)
    page.select_option("#predicted-filter", label)
    page.wait_for_url(re.compile(r"where=label_topic"))
    hits = wait_for_hits(page, after=before)
    assert len(hits) == min(int(counts[label]), 12)


@pytest.fixture
def guarded(web: Any, settings: Any, models: Any, tmp_path: Path) -> Iterator[Any]:
    tokens = tmp_path / "tokens"
    tokens.write_text("browser-token\n")
    cfg = server_settings(settings, web.engine.settings.data_dir, tokens_file=tokens)
    with running_server(cfg, models, engine=web.engine) as server:
        yield server


def test_with_auth_on_the_page_asks_for_the_token_then_works(browser: Any, guarded: Any) -> None:
    context = browser.new_context(base_url=guarded.http_url)
    try:
        page = context.new_page()
        page.goto("/")  # the app itself needs no token
        page.locator("#token-form").wait_for(state="visible")
        assert "missing credentials" in page.locator("#token-reason").inner_text()
        page.fill("#token-input", "browser-token")
        page.click("#token-form button")
        page.locator(f"#collections-table tr[data-collection='{COLLECTION}']").wait_for()
        page.goto(f"/?c={COLLECTION}&q=a+photo&mod=image")
        wait_for_hits(page)
        # Thumbnails need the token too: fetched with it and shown from blob URLs.
        page.wait_for_function(
            "() => [...document.querySelectorAll('#results img.thumb')]"
            ".every(img => img.src.startsWith('blob:') && img.naturalWidth > 0)"
        )
    finally:
        context.close()
