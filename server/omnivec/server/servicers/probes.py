"""ProbeService: train, list, inspect, delete and serve few-shot linear probes (the engine's
:class:`omnivec.indexer.probes.service.ProbeService`, ``engine.probes``)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import grpc

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.prompt_sets import request_templates
from omnivec.server import conversions as conv
from omnivec.server.limits import check_item_count
from omnivec.server.servicers import ServerDeps, relay, run_in_thread
from omnivec.server.status import rpc_method
from omnivec.v1 import probes_pb2, probes_pb2_grpc

__all__ = ["ProbeServicer"]


def _version(value: int) -> int | None:
    return value or None  # the proto's 0 means the latest


class ProbeServicer(probes_pb2_grpc.ProbeServiceServicer):
    def __init__(self, deps: ServerDeps) -> None:
        self._probes = deps.engine.probes
        self._settings = deps.settings

    @rpc_method
    def TrainProbe(
        self, request: probes_pb2.TrainProbeRequest, context: grpc.ServicerContext
    ) -> Iterator[probes_pb2.TrainProbeEvent]:
        from omnivec.indexer.probes.examples import LabelledExample

        check_item_count(len(request.examples), self._settings.max_items_per_request, "examples")
        if request.cv_folds:
            raise InvalidInputError(
                "cv_folds is chosen by the server from the examples per class; leave it 0"
            )
        examples = [
            LabelledExample(conv.probe_input_from_proto(e.input, f"examples[{i}]"), e.label)
            for i, e in enumerate(request.examples)
        ]
        # The set is resolved by the engine (it records its name); the templates are checked here.
        templates = request_templates(request.prompt_template, request.prompt_templates, "")
        out: queue.Queue[Any] = queue.Queue()

        def progress(stage: str, done: int, total: int) -> None:
            out.put(probes_pb2.TrainProbeEvent(
                progress=probes_pb2.TrainProgress(stage=stage, done=done, total=total)
            ))

        def work() -> None:
            record = self._probes.train(
                request.collection, request.name, examples=examples,
                space=request.space or None,
                prompt_template=templates or None,
                class_names=dict(request.class_names) or None,
                abstain_threshold=request.abstain_threshold or None,
                seed=request.seed if request.HasField("seed") else 0,
                progress=progress,
                prompt_set=request.prompt_set or None,
                use_unlabeled=not request.no_unlabeled,
            )
            out.put(probes_pb2.TrainProbeEvent(report=conv.probe_report_to_proto(record)))

        thread = run_in_thread(work, out, context, "train-probe")
        yield from relay(out)
        thread.join()

    @rpc_method
    def ListProbes(
        self, request: probes_pb2.ListProbesRequest, context: grpc.ServicerContext
    ) -> probes_pb2.ListProbesResponse:
        infos = self._probes.list(
            request.collection, request.name or None, all_versions=request.all_versions
        )
        return probes_pb2.ListProbesResponse(probes=[conv.probe_info_to_proto(i) for i in infos])

    @rpc_method
    def GetProbe(
        self, request: probes_pb2.GetProbeRequest, context: grpc.ServicerContext
    ) -> probes_pb2.ProbeReport:
        record = self._probes.get(request.collection, request.name, _version(request.version))
        report: probes_pb2.ProbeReport = conv.probe_report_to_proto(record)
        return report

    @rpc_method
    def DeleteProbe(
        self, request: probes_pb2.DeleteProbeRequest, context: grpc.ServicerContext
    ) -> probes_pb2.DeleteProbeResponse:
        deleted = self._probes.delete(
            request.collection, request.name, version=_version(request.version),
            all_versions=request.all_versions,
        )
        return probes_pb2.DeleteProbeResponse(deleted_versions=deleted)

    @rpc_method
    def Classify(
        self, request: probes_pb2.ClassifyRequest, context: grpc.ServicerContext
    ) -> probes_pb2.ClassifyResponse:
        check_item_count(len(request.inputs), self._settings.max_items_per_request, "Classify")
        inputs = [
            conv.probe_input_from_proto(m, f"inputs[{i}]") for i, m in enumerate(request.inputs)
        ]
        results = self._probes.classify(
            request.collection, request.probe, inputs,
            version=_version(request.version), top_k=request.top_k,
        )
        version = results[0].version if results else request.version
        return probes_pb2.ClassifyResponse(
            results=[conv.classification_to_proto(r) for r in results], version=version
        )

    @rpc_method
    def SuggestLabels(
        self, request: probes_pb2.SuggestLabelsRequest, context: grpc.ServicerContext
    ) -> probes_pb2.SuggestLabelsResponse:
        if request.count < 0:
            raise InvalidInputError(f"count must be 1-1000 (0 means 20), got {request.count}")
        result = self._probes.suggest(
            request.collection, request.probe, n=request.count or 20,
            version=_version(request.version), strategy=request.strategy or "margin",
        )
        response: probes_pb2.SuggestLabelsResponse = conv.suggestions_to_proto(result)
        return response

    @rpc_method
    def ClassifyCollection(
        self, request: probes_pb2.ClassifyCollectionRequest, context: grpc.ServicerContext
    ) -> Iterator[probes_pb2.ClassifyCollectionProgress]:
        out: queue.Queue[Any] = queue.Queue()
        version = request.version

        def progress(stage: str, done: int, total: int) -> None:
            if stage == "classify":
                out.put(probes_pb2.ClassifyCollectionProgress(
                    done=done, total=total, version=version, column=request.column
                ))

        def work() -> None:
            result = self._probes.classify_collection(
                request.collection, request.probe, version=_version(request.version),
                column=request.column or None, progress=progress,
            )
            out.put(probes_pb2.ClassifyCollectionProgress(
                done=result.items + result.skipped, total=result.items + result.skipped,
                abstained=result.abstained, column=result.column, version=result.version,
                is_final=True,
            ))

        thread = run_in_thread(work, out, context, "classify-collection")
        yield from relay(out)
        thread.join()
