"""Threads chosen by the kind of work (torch_threads = 0) and kept when set explicitly."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from omnivec.indexer.threads import BULK_BATCH, ThreadPolicy, machine_busy, usable_cores


def test_auto_gives_queries_half_the_cores_and_bulk_all_unless_busy(settings: Any) -> None:
    policy = ThreadPolicy(settings.model_copy(update={"torch_threads": 0}))
    cores = usable_cores()
    assert policy.threads_for(1) == max(1, cores // 2)
    assert policy.threads_for(BULK_BATCH - 1) == max(1, cores // 2)
    busy = machine_busy(cores)
    bulk = policy.threads_for(BULK_BATCH)
    # The load average is read again inside threads_for: it may have crossed the line since.
    assert bulk == (max(1, cores // 2) if busy else cores) or machine_busy(cores) != busy


def test_an_explicit_count_is_used_for_every_kind_of_work(settings: Any) -> None:
    policy = ThreadPolicy(settings.model_copy(update={"torch_threads": 3}))
    assert {policy.threads_for(n) for n in (1, BULK_BATCH, 10_000)} == {3}


def test_the_text_encoder_runs_each_pass_with_the_policys_count(models: Any) -> None:
    import torch

    encoder = models.text()
    policy = ThreadPolicy(models.settings)
    encoder.encode_texts(["one query"])
    assert torch.get_num_threads() == policy.threads_for(1)
    encoder.encode_texts([f"text number {i}" for i in range(BULK_BATCH)])
    expected = {policy.threads_for(BULK_BATCH), max(1, usable_cores() // 2)}  # busy or not
    assert torch.get_num_threads() in expected


def test_thread_settings_wait_for_a_torch_import_in_progress_on_another_thread(
    settings_env: dict[str, str],
) -> None:
    """At server start-up CLIP's loader imports torch while Whisper's loader applies the thread
    settings. A fresh interpreter reproduces it: one thread imports torch, the other applies the
    settings the moment torch appears in sys.modules, half-initialised."""
    script = """
import sys, threading
from omnivec.indexer.config import load_settings
from omnivec.indexer.models import apply_thread_settings
settings = load_settings()
assert "torch" not in sys.modules
importer = threading.Thread(target=lambda: __import__("torch"))
importer.start()
while "torch" not in sys.modules:
    pass
apply_thread_settings(settings)  # torch is being imported on the other thread
importer.join()
import torch
print(torch.get_num_threads(), settings.effective_torch_threads)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        env={**os.environ, **settings_env, "OMNIVEC_TORCH_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
