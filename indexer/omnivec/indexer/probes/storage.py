"""Versioned probes, stored with their collection (a local folder or an object store).

Layout (under the collection's root, next to ``rows.lance``; read and written through
:class:`omnivec.indexer.storage.Objects`, so it is the same on local disk and on ``s3://``)::

    <collection>/probes/<name>/
      v1/                       one immutable version
        .claim                  taken first: this version number is this writer's
        model.npz               weights (classes x dim) and bias, float32, no pickle
        probe.json              classes, space, encoder spec + fingerprint, calibration,
                                training report, the training examples (ids / sources + labels),
                                prompt template, created_at, sha256 of model.npz; format 2
                                (format 1, still read, named two report fields differently:
                                see omnivec.indexer.probes.report). Written last: it publishes
                                the version
      v2/ ...
      .last_version             highest version ever made, so a deleted version's number is
                                never handed out again (best effort: it is a hint, not a lock)

Saving claims the next number by creating ``v<N>/.claim`` exclusively (a hard link locally, a
conditional PUT on an object store): two writers racing for one number cannot both win, and the
loser takes N+1. Then ``model.npz`` is written, then ``probe.json``, each atomically (fsync'd
temp file and rename locally, one PUT on a store). A version exists once its ``probe.json``
does, so a reader sees a whole version or none of it, and a crash leaves at most a claimed,
unpublished number that listing ignores. Deleting removes ``probe.json`` first (the version is
gone at once), then the rest.

Versions are immutable once written, so loaded models are cached by (path, weights checksum), the
most recently used ``MAX_CACHED_MODELS`` of them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.errors import CorruptDataError, InvalidInputError, NotFoundError
from omnivec.indexer.probes.model import MODEL_FORMAT, ProbeModel
from omnivec.indexer.probes.report import ProbeReport
from omnivec.indexer.storage import LocalObjects, Objects
from omnivec.indexer.store import is_valid_name, validate_name

__all__ = [
    "PROBES_DIR",
    "ProbeRecord",
    "ProbeStorage",
    "validate_probe_name",
    "validate_probe_version",
]

PROBES_DIR = "probes"
RECORD_FILE = "probe.json"
WEIGHTS_FILE = "model.npz"
# 2: the report's fields carry the proto's names; 1 (chosen_c, per_class) is read as well.
RECORD_FORMAT = 2
_READABLE_FORMATS = (1, 2)
_VERSION_DIR = re.compile(r"^v([1-9][0-9]{0,8})$")
_LAST_VERSION = ".last_version"
# Loaded probe models kept per collection (a few KB to a few MB each: classes x dim weights).
MAX_CACHED_MODELS = 64
_CLAIM = ".claim"


def validate_probe_name(name: str) -> str:
    """Probe names follow the collection-name rule, so a name can never escape its directory."""
    return validate_name(name, "probe name")


def validate_probe_version(version: int) -> int:
    """A version number is an integer >= 1 (0 and below never name a version)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"probe version must be an integer >= 1, got {version!r}")
    return version


@dataclass(frozen=True)
class ProbeRecord:
    """What is stored about one probe version (everything but the weights)."""

    collection: str
    name: str
    version: int
    space: str
    classes: tuple[str, ...]
    encoder: EncoderSpec  # the collection's encoder for ``space`` when the probe was trained
    encoder_fingerprint: str
    temperature: float
    abstain_threshold: float | None
    report: ProbeReport
    examples: tuple[dict[str, Any], ...]  # {"item_id"|"source"|"text": ..., "label": ...}
    created_at: float  # unix seconds
    prompt_template: str | None
    class_names: dict[str, str]
    pooling: str  # how an item's chunk vectors become one vector: "mean"
    seed: int
    weights_sha256: str
    # Every prompt template of the zero-shot prior's ensemble (``prompt_template`` is the first),
    # and the built-in set they came from, if any (omnivec.indexer.prompt_sets).
    prompt_templates: tuple[str, ...] = ()
    prompt_set: str | None = None
    path: Path = field(repr=False, compare=False, default=Path())

    @property
    def accuracy(self) -> float | None:
        """The report's accuracy estimate, however it was made (``report.estimate_method``)."""
        return self.report.accuracy

    @property
    def created_at_iso(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what ``probe show --json`` prints); ``path`` excluded."""
        return {
            "collection": self.collection,
            "name": self.name,
            "version": self.version,
            "space": self.space,
            "classes": list(self.classes),
            "encoder": self.encoder.to_dict(),
            "encoder_fingerprint": self.encoder_fingerprint,
            "temperature": self.temperature,
            "abstain_threshold": self.abstain_threshold,
            "report": self.report.to_dict(),
            "examples": [dict(e) for e in self.examples],
            "created_at": self.created_at,
            "created_at_iso": self.created_at_iso,
            "prompt_template": self.prompt_template,
            "prompt_templates": list(self.prompt_templates),
            "prompt_set": self.prompt_set,
            "class_names": dict(self.class_names),
            "pooling": self.pooling,
            "seed": self.seed,
            "weights_sha256": self.weights_sha256,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path) -> ProbeRecord:
        try:
            if data.get("format") not in _READABLE_FORMATS:
                raise CorruptDataError(
                    f"{path}: unsupported probe record format {data.get('format')!r}"
                )
            threshold = data.get("abstain_threshold")
            return cls(
                collection=str(data["collection"]),
                name=str(data["name"]),
                version=int(data["version"]),
                space=str(data["space"]),
                classes=tuple(str(c) for c in data["classes"]),
                encoder=EncoderSpec.from_dict(dict(data["encoder"])),
                encoder_fingerprint=str(data["encoder_fingerprint"]),
                temperature=float(data["temperature"]),
                abstain_threshold=None if threshold is None else float(threshold),
                report=ProbeReport.from_dict(data["report"]),
                examples=tuple(dict(e) for e in data["examples"]),
                created_at=float(data["created_at"]),
                prompt_template=data.get("prompt_template"),
                # Before ensembles a record held one template.
                prompt_templates=tuple(
                    str(t)
                    for t in data.get("prompt_templates")
                    or ([data["prompt_template"]] if data.get("prompt_template") else [])
                ),
                prompt_set=data.get("prompt_set"),
                class_names={str(k): str(v) for k, v in dict(data.get("class_names") or {}).items()},
                pooling=str(data.get("pooling", "mean")),
                seed=int(data.get("seed", 0)),
                weights_sha256=str(data["weights_sha256"]),
                path=path,
            )
        except CorruptDataError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptDataError(f"{path}: probe record is damaged ({exc!r})") from exc


class ProbeStorage:
    """The probes of one collection. Thread-safe; safe across processes (and replicas on one
    object store) for saves."""

    def __init__(self, collection: Path | Objects, collection_name: str) -> None:
        self.objects = collection if isinstance(collection, Objects) else LocalObjects(Path(collection))
        self.collection_name = collection_name
        self._lock = threading.Lock()
        # Loaded models, most recently used last. Bounded: a probe retrained every few seconds
        # for weeks would otherwise keep every version it ever served in memory.
        self._models: OrderedDict[tuple[Path, str], ProbeModel] = OrderedDict()

    # -- keys and listing -------------------------------------------------------------------
    def _dir(self, name: str) -> str:
        return f"{PROBES_DIR}/{validate_probe_name(name)}"

    def _version_path(self, name: str, number: int) -> Path:
        """The version's folder (locally) or its key (on an object store), for records."""
        key = f"{self._dir(name)}/v{number}"
        local = self.objects.local_path
        return local / key if local is not None else Path(key)

    def names(self) -> list[str]:
        return sorted(
            n for n in self.objects.list(PROBES_DIR) if is_valid_name(n) and self.versions(n)
        )

    def versions(self, name: str) -> list[int]:
        folder = self._dir(name)
        out = []
        for key in self.objects.sizes(folder):
            parts = key.rsplit("/", 2)
            if len(parts) == 3 and parts[2] == RECORD_FILE:
                match = _VERSION_DIR.fullmatch(parts[1])
                if match and parts[0] == folder:
                    out.append(int(match.group(1)))
        return sorted(out)

    def resolve(self, name: str, version: int | None = None) -> int:
        """The version number ``version`` names (None: the latest), or NotFoundError."""
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise NotFoundError(
                f"probe {name!r} does not exist in collection {self.collection_name!r} "
                f"(probes: {known}); train it with `omnivec probe train {name} "
                f"--collection {self.collection_name} --labels FILE`"
            )
        if version is None:
            return versions[-1]
        validate_probe_version(version)
        if version not in versions:
            raise NotFoundError(
                f"probe {name!r} of collection {self.collection_name!r} has no version {version} "
                f"(versions: {', '.join(map(str, versions))})"
            )
        return version

    # -- reading ----------------------------------------------------------------------------
    def record(self, name: str, version: int | None = None) -> ProbeRecord:
        number = self.resolve(name, version)
        key = f"{self._dir(name)}/v{number}/{RECORD_FILE}"
        path = self._version_path(name, number)
        try:
            data = json.loads(self.objects.read(key).decode("utf-8"))
        except FileNotFoundError:
            raise NotFoundError(
                f"probe {name!r} version {number} was deleted while it was being read"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptDataError(
                f"probe {name!r} version {number} cannot be read ({exc}); delete it with "
                f"`omnivec probe delete {name} --collection {self.collection_name} --version {number}`"
            ) from exc
        if not isinstance(data, dict):
            raise CorruptDataError(f"{path / RECORD_FILE}: not a JSON object")
        return ProbeRecord.from_dict(data, path)

    def load(self, name: str, version: int | None = None) -> tuple[ProbeRecord, ProbeModel]:
        """The record and the servable model of a version (models are cached: versions are
        immutable)."""
        record = self.record(name, version)
        key = (record.path, record.weights_sha256)
        with self._lock:
            cached = self._models.get(key)
            if cached is not None:
                self._models.move_to_end(key)
        if cached is not None:
            return record, cached
        try:
            raw = self.objects.read(f"{self._dir(name)}/v{record.version}/{WEIGHTS_FILE}")
        except OSError as exc:
            raise CorruptDataError(f"probe {name!r} v{record.version}: {WEIGHTS_FILE} unreadable ({exc})") from exc
        if hashlib.sha256(raw).hexdigest() != record.weights_sha256:
            raise CorruptDataError(
                f"probe {name!r} v{record.version}: {WEIGHTS_FILE} does not match its checksum; "
                "the file is damaged - retrain the probe or delete this version"
            )
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError) as exc:
            raise CorruptDataError(f"probe {name!r} v{record.version}: weights unreadable ({exc})") from exc
        meta = {
            "format": MODEL_FORMAT,
            "classes": list(record.classes),
            "temperature": record.temperature,
            "abstain_threshold": record.abstain_threshold,
        }
        model = ProbeModel.from_arrays(arrays, meta)
        with self._lock:
            self._models[key] = model
            while len(self._models) > MAX_CACHED_MODELS:
                self._models.popitem(last=False)
        return record, model

    # -- writing ----------------------------------------------------------------------------
    def _last_version(self, folder: str) -> int:
        try:
            return int(self.objects.read(f"{folder}/{_LAST_VERSION}").decode().strip())
        except (OSError, ValueError):
            return 0

    def _claim(self, name: str) -> int:
        """The next free version number, claimed for this writer alone."""
        folder = self._dir(name)
        number = max([0, self._last_version(folder), *self.versions(name)]) + 1
        claim = json.dumps({"pid": os.getpid(), "at": time.time()}).encode()
        while not self.objects.create(f"{folder}/v{number}/{_CLAIM}", claim):
            number += 1  # another writer took this number: take the next one
        return number

    def save(self, name: str, model: ProbeModel, record: Mapping[str, Any]) -> ProbeRecord:
        """Write a new version (the next number) atomically and return its record.

        ``record`` holds the ProbeRecord fields except collection/name/version/classes/
        temperature/abstain_threshold/weights_sha256, which come from here and from ``model``.
        """
        folder = self._dir(name)
        arrays, meta = model.to_arrays()
        buffer = io.BytesIO()
        np.savez(buffer, weights=arrays["weights"], bias=arrays["bias"])
        weights = buffer.getvalue()
        number = self._claim(name)
        version = f"{folder}/v{number}"
        data = {
            "format": RECORD_FORMAT,
            **dict(record),
            "collection": self.collection_name,
            "name": name,
            "version": number,
            "classes": list(meta["classes"]),
            "temperature": meta["temperature"],
            "abstain_threshold": meta["abstain_threshold"],
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
        }
        try:
            self.objects.write(f"{version}/{WEIGHTS_FILE}", [weights])
            encoded = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
            self.objects.write(f"{version}/{RECORD_FILE}", [encoded])  # publishes the version
        except BaseException:
            self.objects.delete_tree(version)
            raise
        try:
            if number > self._last_version(folder):
                self.objects.write(f"{folder}/{_LAST_VERSION}", [str(number).encode()])
        except OSError:
            pass  # a hint only
        return ProbeRecord.from_dict(data, self._version_path(name, number))

    def delete(self, name: str, version: int | None = None, *, all_versions: bool = False) -> int:
        """Delete one version, or every version with ``all_versions``; returns how many."""
        if (version is None) == (not all_versions):
            raise InvalidInputError(
                "give exactly one of a version or all_versions to delete a probe "
                "(so a forgotten version never deletes everything)"
            )
        if all_versions:
            numbers = self.versions(name)
            if not numbers:
                self.resolve(name)  # raises NotFoundError with the known names
        else:
            assert version is not None
            numbers = [self.resolve(name, version)]
        folder = self._dir(name)
        for number in numbers:
            self.objects.delete(f"{folder}/v{number}/{RECORD_FILE}")  # gone from here on
            path = self._version_path(name, number)
            with self._lock:
                for key in [k for k in self._models if k[0] == path]:
                    del self._models[key]
            self.objects.delete_tree(f"{folder}/v{number}")
        if all_versions:
            self.objects.delete_tree(folder)
        return len(numbers)
