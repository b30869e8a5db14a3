"""Few-shot probes (ProbeService): train, list, show, classify, apply to the collection, suggest
what to label next, delete.

Training answers when the probe is stored, with its report (gRPC streams progress first; a web
page waits a second or two instead).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from omnivec.client.types import LabelSuggestions
from omnivec.indexer.classify import MediaInput
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput
from omnivec.indexer.prompt_sets import request_templates
from omnivec.server.http import convert
from omnivec.server.http import schemas as s
from omnivec.server.http.routes import deps, engine
from omnivec.server.limits import check_item_count, check_query_text

__all__ = ["router"]

router = APIRouter(tags=["probes"])


def _input(item_id: str | None, text: str | None, where: str) -> ProbeInput:
    if (item_id is None) == (text is None):
        raise InvalidInputError(f"{where}: give exactly one of item_id or text")
    if item_id is not None:
        return ProbeInput.item(item_id)
    assert text is not None
    check_query_text(text, where)
    return ProbeInput(media=MediaInput(text=text))


@router.get("/collections/{collection}/probes", response_model=list[s.ProbeInfoOut])
def list_probes(request: Request, collection: str, all_versions: bool = False) -> list[s.ProbeInfoOut]:
    infos = engine(request).probes.list(collection, None, all_versions=all_versions)
    return [convert.probe_info(i) for i in infos]


@router.post("/collections/{collection}/probes/{name}/train", response_model=s.ProbeReportOut)
def train_probe(request: Request, collection: str, name: str, body: s.TrainProbeIn) -> s.ProbeReportOut:
    """Train a new version from labelled items or texts; answers with its report."""
    check_item_count(len(body.examples), deps(request).settings.max_items_per_request, "examples")
    examples = [
        LabelledExample(_input(e.item_id, e.text, f"examples[{i}]"), e.label)
        for i, e in enumerate(body.examples)
    ]
    # Checked as over gRPC; the set itself is resolved by the engine (it records its name).
    prompts = request_templates(body.prompt_template or "", body.prompt_templates, "")
    record = engine(request).probes.train(
        collection, name, examples=examples, space=body.space,
        prompt_template=prompts or None, class_names=body.class_names or None,
        abstain_threshold=body.abstain_threshold, seed=body.seed, prompt_set=body.prompt_set,
        use_unlabeled=body.use_unlabeled,
    )
    return convert.probe_report(record)


@router.get("/collections/{collection}/probes/{name}", response_model=s.ProbeReportOut)
def get_probe(request: Request, collection: str, name: str, version: int = 0) -> s.ProbeReportOut:
    return convert.probe_report(engine(request).probes.get(collection, name, version or None))


@router.delete("/collections/{collection}/probes/{name}", response_model=s.DeleteProbeOut)
def delete_probe(
    request: Request, collection: str, name: str, version: int = 0, all_versions: bool = False
) -> s.DeleteProbeOut:
    deleted = engine(request).probes.delete(
        collection, name, version=version or None, all_versions=all_versions
    )
    return s.DeleteProbeOut(deleted_versions=deleted)


@router.post("/collections/{collection}/probes/{name}/classify", response_model=s.ProbeClassifyOut)
def classify_with_probe(
    request: Request, collection: str, name: str, body: s.ProbeClassifyIn
) -> s.ProbeClassifyOut:
    """Classify stored items and/or texts with a probe version (one result per input, in order:
    item ids first)."""
    inputs = [_input(i, None, f"item_ids[{n}]") for n, i in enumerate(body.item_ids)]
    inputs += [_input(None, t, f"texts[{n}]") for n, t in enumerate(body.texts)]
    check_item_count(len(inputs), deps(request).settings.max_items_per_request, "classify")
    results = engine(request).probes.classify(
        collection, name, inputs, version=body.version or None, top_k=body.top_k
    )
    version = results[0].version if results else body.version
    return s.ProbeClassifyOut(results=[convert.classification(r) for r in results], version=version)


@router.post("/collections/{collection}/probes/{name}/apply", response_model=s.ApplyProbeOut)
def apply_probe(request: Request, collection: str, name: str, body: s.ApplyProbeIn) -> s.ApplyProbeOut:
    """Label every item of the collection: writes ``label_<probe>`` (and its confidence), which
    search filters can then use (``where: "label_topic = 'cooking'"``)."""
    result = engine(request).probes.classify_collection(
        collection, name, version=body.version or None, column=body.column
    )
    return convert.apply_result(result)


@router.post("/collections/{collection}/probes/{name}/suggest", response_model=LabelSuggestions)
def suggest_labels(request: Request, collection: str, name: str, body: s.SuggestIn) -> LabelSuggestions:
    """The unlabelled items whose labels would help the probe most, most useful first (what the
    gRPC SuggestLabels and ``omnivec probe suggest`` answer)."""
    result = engine(request).probes.suggest(
        collection, name, n=body.n, version=body.version or None, strategy=body.strategy
    )
    return convert.suggestions(result)
