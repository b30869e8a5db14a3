"""The cache of encoder exports (ONNX, OpenVINO, their int8 variants), made locally and offline.

An export is a folder derived from the weights the user already has. Its name carries a checksum
of those source weights, so changed weights get a new export instead of a stale one::

    <exports_dir>/<encoder>/<variant>-<digest16>/
        export.json          written last: the source digest, the variant, every file's sha256
        ...                  whatever the exporter wrote (model.onnx, openvino_model.xml, ...)

Exports are built in a temporary sibling folder and renamed into place, so an interrupted export
is never used: a folder without a valid ``export.json`` does not count. A file lock keeps two
processes from exporting the same thing at once (the second waits, then uses the first's).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from omnivec.indexer.encoders.base import file_sha256
from omnivec.indexer.errors import FailedPreconditionError

__all__ = [
    "ExportKey",
    "compress_openvino_int8",
    "quantize_openvino_int8",
    "ensure_export",
    "export_state",
    "find_export",
    "package_versions",
    "precision_of",
    "require_packages",
    "source_digest",
]

_MANIFEST = "export.json"
_FORMAT = 1


def precision_of(backend: str) -> str:
    """The precision of a backend's vectors (what EncoderSpec.precision records): "int8" for the
    quantized ``-int8`` backends, "fp32" for torch and the fp32 exports."""
    return "int8" if backend.endswith("-int8") else "fp32"


def package_versions(packages: Iterable[str]) -> str:
    """"name=version,..." of installed packages ("absent" for missing ones): the exporters'
    versions salt the cache keys, so a new exporter or quantizer makes a new export. Read from
    metadata, not by importing: `models list` asks for keys without loading torch."""
    return ",".join(f"{p}={_installed_version(p) or 'absent'}" for p in packages)


def require_packages(setting: str, backend: str, packages: Iterable[str]) -> None:
    """Raise FailedPreconditionError naming the missing packages a backend needs, and the fix."""
    missing = [p for p in packages if _installed_version(p) is None]
    if missing:
        raise FailedPreconditionError(
            f"{setting} = {backend!r} needs {', '.join(missing)}, which is not installed: install "
            f"the fast extra (`pip install 'omnivec[fast]'`) or set {setting} = \"torch\""
        )


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def compress_openvino_int8(model: Any) -> Any:
    """NNCF's data-free int8 weight compression (INT8_ASYM) of an OpenVINO model."""
    import nncf

    with _nncf_quiet():
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)


def quantize_openvino_int8(model: Any, calibration: Sequence[Any]) -> Any:
    """NNCF's static int8 quantization of a transformer OpenVINO model: weights and activations,
    activation ranges measured on ``calibration`` (model inputs, one dict per sample). The MIXED
    preset (symmetric weights, asymmetric activations) and the transformer model type (which
    keeps softmax, layer norms and their neighbours in fp32 and smooths outlier channels) are
    what sentence-transformers' ``export_static_quantized_openvino_model`` asks for."""
    import nncf

    with _nncf_quiet():
        return nncf.quantize(
            model, nncf.Dataset(list(calibration)), subset_size=len(calibration),
            model_type=nncf.ModelType.TRANSFORMER, preset=nncf.QuantizationPreset.MIXED,
        )


@contextmanager
def _nncf_quiet() -> Iterator[None]:
    """NNCF logs a statistics table and draws a progress bar on stdout, which is the CLI's output
    (`omnivec embed --json` is parsed by callers): errors only, and the bar goes to stderr."""
    import nncf

    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(sys.stderr):
        yield


@dataclass(frozen=True)
class ExportKey:
    """Which export: of which encoder, from which source weights, in which form."""

    encoder: str  # registry name: "text", "clip"
    variant: str  # backend, plus any part an encoder needs: "onnx-int8", "openvino-image", ...
    source_digest: str  # source_digest() of the weights it is made from

    @property
    def folder_name(self) -> str:
        return f"{self.variant}-{self.source_digest[:16]}"

    def folder(self, root: Path) -> Path:
        return root / self.encoder / self.folder_name


def source_digest(files: Iterable[Path], *, base: Path | None = None, salt: str = "") -> str:
    """sha256 over the source weight files' contents (and their names relative to ``base``).

    ``salt`` folds in anything else that changes the export (an exporter version, a setting such as
    max_seq_length): change it and the export is re-made.
    """
    digest = hashlib.sha256(salt.encode())
    for path in sorted(Path(p) for p in files):
        name = str(path.relative_to(base)) if base is not None else path.name
        digest.update(name.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def _file_digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != _MANIFEST
    }


def find_export(root: Path, key: ExportKey, *, verify: bool = False) -> Path | None:
    """The finished export's folder, or None when it is missing (or, with ``verify``, damaged)."""
    folder = key.folder(root)
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("source_digest") != key.source_digest or manifest.get("variant") != key.variant:
        return None
    if verify and manifest.get("files") != _file_digests(folder):
        return None
    return folder


def export_state(root: Path, key: ExportKey) -> str:
    """"ready" or "not exported yet", for `omnivec models list`."""
    return "ready" if find_export(root, key) is not None else "not exported yet"


@contextmanager
def _locked(root: Path, key: ExportKey) -> Iterator[None]:
    lock_dir = root / key.encoder
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f".{key.folder_name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_export(root: Path, key: ExportKey, build: Callable[[Path], None]) -> Path:
    """The export's folder, building it first with ``build(empty_folder)`` when missing.

    ``build`` writes the export's files into the folder it is given; only when it returns is the
    folder checksummed, given its manifest and renamed into place. Older exports of the same
    variant (made from other source weights) are removed once the new one is in place.
    """
    found = find_export(root, key)
    if found is not None:
        return found
    with _locked(root, key):
        found = find_export(root, key)  # another process may have finished it while we waited
        if found is not None:
            return found
        final = key.folder(root)
        staging = final.with_name(f".tmp-{key.folder_name}-{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        try:
            build(staging)
            manifest = {
                "format": _FORMAT,
                "encoder": key.encoder,
                "variant": key.variant,
                "source_digest": key.source_digest,
                "files": _file_digests(staging),
            }
            (staging / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            _fsync_tree(staging)
            if final.exists():  # a damaged or partial folder from before: replace it
                shutil.rmtree(final)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _remove_stale(root, key)
        return final


def _remove_stale(root: Path, key: ExportKey) -> None:
    for other in (root / key.encoder).glob(f"{key.variant}-*"):
        suffix = other.name[len(key.variant) + 1 :]
        if other.is_dir() and other.name != key.folder_name and "-" not in suffix:
            shutil.rmtree(other, ignore_errors=True)
            (other.parent / f".{other.name}.lock").unlink(missing_ok=True)
