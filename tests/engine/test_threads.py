"""Threads chosen by the kind of work (torch_threads = 0) and kept when set explicitly."""

from __future__ import annotations

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
