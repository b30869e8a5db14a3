"""Cold start: health SERVING once the text path is warm, CLIP still loading; ANN warm at start.

CLIP is held back for real, not by a stand-in: its checkpoint path is a named pipe, so describing
and loading it (which hashes the file) blocks in ``read`` until the test writes the real
checkpoint into the pipe. Meanwhile the real server loads MiniLM and opens the collections.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from omnivec.client import Client
from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.engine import Engine
from omnivec.server.app import create_server


@pytest.fixture
def held_clip(tiny_clip_checkpoint: Path, tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A named pipe where the CLIP checkpoint should be, and an event that releases it: the pipe
    is fed the real checkpoint once, then replaced by the real file for every later reader."""
    pipe = tmp_path / "clip-held.pt"
    os.mkfifo(pipe)
    release = threading.Event()

    def feed() -> None:
        release.wait()
        writer = os.open(pipe, os.O_WRONLY)  # the blocked reader is on the other end
        real = tmp_path / "clip-real.pt"
        shutil.copyfile(tiny_clip_checkpoint, real)
        os.replace(real, pipe)  # later opens of the path get the real file
        with os.fdopen(writer, "wb") as out:
            out.write(tiny_clip_checkpoint.read_bytes())

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield pipe, release
    finally:
        if not release.is_set():
            release.set()
        feeder.join(30)


def _clip_held_settings(settings: Any, data_dir: Path, pipe: Path) -> Any:
    """The session's settings over ``data_dir``, with CLIP's checkpoint at the held pipe and
    Whisper off."""
    return settings.model_copy(update={
        "data_dir": data_dir,
        "clip": settings.clip.model_copy(update={"checkpoint": pipe}),
        "speech": settings.speech.model_copy(update={"enabled": False}),
    })


@contextlib.contextmanager
def _serving(settings: Any, data_dir: Path, checkpoint: Path) -> Iterator[tuple[Any, int]]:
    """A started, ready server (``_clip_held_settings``) and its port; stopped on exit."""
    server, port = create_server(
        _clip_held_settings(settings, data_dir, checkpoint), address="127.0.0.1:0"
    )
    server.start()
    try:
        assert server.wait_until_ready(300)
        assert server.warm_up is not None
        yield server, port
    finally:
        server.stop(grace=0)


def _clip_state_when(server: Any, reached: Callable[[str], bool], seconds: float = 60) -> str:
    """CLIP's warm-up state once ``reached`` holds for it, or when ``seconds`` have passed."""
    for _ in range(int(seconds * 10)):
        state: str = server.warm_up.states()["clip"].state
        if reached(state):
            return state
        threading.Event().wait(0.1)
    return str(server.warm_up.states()["clip"].state)


def test_health_is_serving_while_clip_still_loads_and_ann_indexes_are_warm(
    settings: Any, models: Any, tmp_path: Path, held_clip: tuple[Path, threading.Event],
) -> None:
    pipe, release = held_clip
    data_dir = tmp_path / "data"
    # A text collection made beforehand, by another process's engine (the session's models).
    maker = Engine(settings.model_copy(update={"data_dir": data_dir}), models)
    maker.create_collection("notes", ["text"])
    texts = ["the espresso machine makes crema", "a rocket lifts off at dawn", "the cat sleeps"]
    maker.upsert("notes", [IngestItem(f"n{i}", "text", text=t, item_id=f"n{i}") for i, t in enumerate(texts)])
    maker.store.close()

    served = _clip_held_settings(settings, data_dir, pipe)
    server, port = create_server(served, address="127.0.0.1:0")
    server.start()
    try:
        assert server.wait_until_ready(300)
        with Client(f"127.0.0.1:{port}", timeout=120) as client:
            # SERVING with the text path warm while CLIP is still loading (blocked on its file).
            assert client.health() == "SERVING"
            assert client.health("omnivec.encoder.text") == "SERVING"
            assert client.health("omnivec.encoder.clip") == "NOT_SERVING"
            assert client.health("omnivec.encoder.speech") == "NOT_SERVING"  # disabled
            assert server.warm_up is not None
            states = server.warm_up.states()
            assert states["clip"].state == "loading" and states["text"].state == "ready"
            assert states["speech"].state == "disabled"
            # The collection was opened and its ANN index loaded at start, before any search.
            assert server.engine.collection("notes").ann_loaded_spaces() == ["text"]
            hits = client.search("notes", text="coffee", k=1, spaces=["text"])
            assert hits[0].id == "n0"  # the espresso note

            release.set()  # CLIP's checkpoint arrives: it finishes loading and reports so
            for _ in range(600):
                if client.health("omnivec.encoder.clip") == "SERVING":
                    break
                threading.Event().wait(0.1)
            assert client.health("omnivec.encoder.clip") == "SERVING"
            assert server.warm_up.states()["clip"].state == "ready"
            assert client.embed(texts=["a cat"], space="clip").shape[0] == 1
    finally:
        release.set()
        server.stop(grace=1)


def test_stop_waits_for_an_encoder_still_loading(
    settings: Any, tmp_path: Path, held_clip: tuple[Path, threading.Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server stopped while CLIP is still loading waits for that load to end before it
    closes: exiting under a thread inside native model-loading code made the C++ runtime abort
    the process (`make serve` stopped one second after start: "terminate called without an
    active exception", exit 134)."""
    pipe, release = held_clip
    with _serving(settings, tmp_path / "data", pipe) as (server, _port):
        try:
            # CLIP's loader starts once the text path is warm.
            loading = _clip_state_when(server, lambda state: state == "loading", seconds=30)
            assert loading == "loading"
            released = threading.Timer(1.0, release.set)  # the checkpoint arrives during the stop
            released.start()
            with caplog.at_level(logging.INFO, logger="omnivec.server"):
                server.stop(grace=0)
            assert release.is_set(), "stop returned while CLIP was still blocked loading"
            assert server.warm_up.wait(0) == []
            assert "waiting for the loading in progress to end (warm-clip)" in caplog.text
            assert server.warm_up.states()["clip"].state == "ready"
        finally:
            release.set()


def test_an_encoder_whose_weights_arrive_after_the_start_serves_once_a_call_loads_it(
    settings: Any, tiny_clip_checkpoint: Path, tmp_path: Path,
) -> None:
    """Start-up leaves CLIP ``not-local`` (no checkpoint yet); the user copies it in; the first
    CLIP call loads it, and health turns SERVING instead of saying NOT_SERVING for good."""
    checkpoint = tmp_path / "arrives-later.pt"
    with _serving(settings, tmp_path / "data", checkpoint) as (server, port):
        settled = _clip_state_when(server, lambda state: state not in ("pending", "loading"))
        assert settled == "not-local"
        with Client(f"127.0.0.1:{port}", timeout=120) as client:
            assert client.health("omnivec.encoder.clip") == "NOT_SERVING"
            shutil.copyfile(tiny_clip_checkpoint, checkpoint)
            assert client.embed(texts=["a cat"], space="clip").shape[0] == 1
            assert client.health("omnivec.encoder.clip") == "SERVING"
        clip = server.warm_up.states()["clip"]
        assert (clip.state, clip.detail) == ("ready", "loaded by a call (was not-local)")
