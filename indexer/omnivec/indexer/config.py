"""Typed configuration: defaults, then a TOML file, then ``OMNIVEC_*`` environment variables.

Precedence (highest first): explicit overrides passed by the CLI, environment variables
(``OMNIVEC_OFFLINE=1``, nested with ``__``: ``OMNIVEC_CLIP__CHECKPOINT=/models/clip.pt``), the TOML
file (``--config FILE``, else ``$OMNIVEC_CONFIG``, else ``./omnivec.toml`` when present), defaults.

The TOML file mirrors the model below::

    data_dir = "/var/lib/omnivec"
    offline = true

    [clip]
    model = "ViT-B-32"
    checkpoint = "/models/vit-b-32-laion2b.safetensors"

    [server]
    port = 50051

    [storage]                     # only for an object-store data_dir ("s3://bucket/prefix")
    endpoint = "http://127.0.0.1:8333"
    allow_http = true
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from omnivec.indexer.errors import ConfigError

__all__ = [
    "BACKENDS",
    "DEFAULT_INDEX_CACHE_MB",
    "DEFAULT_METADATA_CACHE_MB",
    "Backend",
    "ClipSettings",
    "IndexSettings",
    "RaySettings",
    "ServerSettings",
    "Settings",
    "SpeechSettings",
    "StorageSettings",
    "TextBackend",
    "TextSettings",
    "load_settings",
]

DEFAULT_CONFIG_FILE = Path("omnivec.toml")

# How an embedding encoder runs its forward passes. "torch" is the model as loaded; the others run
# an export of the same weights (made locally, cached under Settings.exports_dir). "-int8" ones are
# quantized: their vectors differ from fp32 ones, so a collection records which it was built with.
Backend = Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
_BACKEND_HELP = (
    "How the forward passes run: torch (default), onnx, onnx-int8, openvino or openvino-int8 "
    "(exports of the same weights, made locally on first use and cached in exports_dir)."
)
# The text space may also say "auto": onnx on the CPU (the same fp32 vectors as torch to 1e-4,
# and a process that never imports torch or transformers: a text-only call starts in seconds, not
# ~15 s), torch on a GPU. Collections record the backend it resolved to.
TextBackend = Literal["auto", "torch", "onnx", "onnx-int8", "openvino", "openvino-int8"]
_TEXT_BACKEND_HELP = (
    "How the text encoder's forward passes run: auto (default: onnx on the CPU, torch on a GPU), "
    "torch, onnx, onnx-int8, openvino or openvino-int8 (exports of the same weights, made locally "
    "on first use and cached in exports_dir)."
)


class ClipSettings(BaseModel):
    """The CLIP space: any open_clip architecture with weights from one of three sources."""

    enabled: bool = True
    model: str = Field(
        "ViT-B-32",
        description="open_clip architecture name (see `open_clip.list_models()`), or "
        "'local-dir:/path' for a folder holding open_clip_config.json and the weights.",
    )
    pretrained: str | None = Field(
        "laion2b_s34b_b79k",
        description="open_clip pretrained tag; downloaded once into cache_dir where allowed.",
    )
    checkpoint: Path | None = Field(
        None,
        description="Local checkpoint file (.safetensors/.pt/.bin) or a directory holding one. "
        "Takes precedence over `pretrained`: the way to run CLIP on a machine without network.",
    )
    architecture_file: Path | None = Field(
        None,
        description="Extra open_clip architecture JSON (or a folder of them) to register, for "
        "custom models; its file stem becomes the architecture name.",
    )
    cache_dir: Path | None = Field(None, description="Where downloaded weights are cached.")
    batch_size: int = Field(32, ge=1, le=4096)
    backend: Backend = Field("torch", description=_BACKEND_HELP)


class TextSettings(BaseModel):
    """The text space: a sentence-transformers model, by default the bundled all-MiniLM-L6-v2."""

    enabled: bool = True
    model: str | None = Field(
        None, description="Local sentence-transformers folder; empty means the bundled MiniLM."
    )
    batch_size: int = Field(64, ge=1, le=4096)
    max_seq_length: int | None = Field(None, ge=8, le=8192)
    backend: TextBackend = Field("auto", description=_TEXT_BACKEND_HELP)

    def resolved_backend(self, device: str) -> Backend:
        """The backend "auto" stands for on ``device``; any other value as set."""
        if self.backend != "auto":
            return self.backend
        return "onnx" if device == "cpu" else "torch"


class SpeechSettings(BaseModel):
    """Speech-to-text with faster-whisper, by default the bundled Whisper tiny.en (CTranslate2)."""

    enabled: bool = True
    model: str | None = Field(
        None, description="Local CTranslate2 Whisper folder; empty means the bundled tiny.en."
    )
    compute_type: str = "int8"
    beam_size: int = Field(5, ge=1, le=16)
    language: str | None = Field(
        None, description="Force a language code; None lets English-only models default to 'en'."
    )
    vad_filter: bool = False


class IndexSettings(BaseModel):
    """How the indexer chunks text and chooses ANN indexes."""

    chunk_chars: int = Field(1000, ge=50, description="Target characters per text chunk.")
    chunk_overlap_chars: int = Field(200, ge=0)
    audio_chunk_seconds: float = Field(30.0, gt=1.0)
    audio_chunk_overlap_seconds: float = Field(5.0, ge=0.0)
    write_batch_rows: int = Field(256, ge=1, description="Rows per LanceDB append.")
    ann_kind: Literal["auto", "flat", "hnsw", "ivfpq"] = "auto"
    ann_exact_threshold: int = Field(20_000, ge=1)
    ann_recall_target: float = Field(0.95, gt=0.0, le=1.0)
    ann_ivfpq_rerank: bool = Field(
        True, description="An IVF-PQ index (ann_kind = \"ivfpq\") keeps an 8-bit copy of each "
        "vector (one byte a dimension) and re-ranks its PQ candidates with it: recall@10 0.30 -> "
        "0.97 on 1M clustered vectors (README, Performance). false: PQ codes only, the least "
        "memory (pq_m + 8 bytes a vector) and the lowest recall.",
    )
    ann_memory_budget_mb: float = Field(
        4096, gt=0, description="Per space: when its FAISS index would hold more RAM than this, "
        "LanceDB's own vector index, stored with the table, serves the space instead.",
    )
    lance_index_type: Literal["ivf_hnsw_sq", "ivf_pq"] = Field(
        "ivf_hnsw_sq", description="LanceDB's index for spaces over the memory budget.",
    )
    payload_cache_mb: int = Field(
        256,
        ge=0,
        description="Per open collection, keep the display columns of search hits in memory up to "
        "this many MiB (0 = off): a hit then costs no LanceDB query (5-11 ms each on 2 cores).",
    )
    compact_every_commits: int = Field(
        64, ge=0, description="The process writing a collection merges its small fragments "
        "after this many of its commits, in the background (0 = never): each small upsert "
        "leaves a fragment, and scans, commits and memory grow with their count.",
    )
    compact_target_rows: int = Field(
        16_384, ge=1024, description="Compaction rewrites only fragments under this many rows "
        "(or with over 10% deleted), into fragments of up to this many: it bounds each one's work.",
    )
    keep_versions_days: float = Field(
        7.0, ge=0, description="After each compaction, table versions older than this many days "
        "are removed with the files only they use (0 = keep every version): `restore --version` "
        "reaches back this far; snapshots are always kept. Without it a collection fed by small "
        "upserts keeps every rewritten fragment (60 MB for 7.4 MB of vectors after 1,600 commits).",
    )
    keep_versions_min: int = Field(
        16, ge=1, description="The newest versions kept whatever their age (restore targets, and "
        "what opening falls back to after a damaged newest version).",
    )
    allow_precision_mismatch: bool = Field(
        False,
        description="Search (and classify) a collection whose vectors were made at another "
        "precision than the configured encoder's (an fp32 collection with an int8 backend, or the "
        "other way round). Scores shift slightly; adding rows stays refused.",
    )


class RaySettings(BaseModel):
    """Indexing on a Ray cluster (``omnivec index ... --ray ADDRESS``, the ``distributed`` extra).

    Reading, hashing, decoding and writing run as Ray tasks of ``task_cpus`` each; encoding runs in
    a pool of actors, each holding its own encoders. Stages get fractional CPUs on purpose: when
    the actor pool holds every CPU, Ray Data's read and write stages never get one and the job
    hangs (seen on 2 cores).
    """

    actors: int = Field(
        0, ge=0, description="Encoder actors; 0 = as many as the cluster's CPUs (or GPUs, with "
        "actor_gpus) hold after one CPU is left to the tasks, at least one.",
    )
    actor_cpus: float = Field(1.0, gt=0, description="CPUs per encoder actor (its torch threads).")
    actor_gpus: float = Field(0.0, ge=0, description="GPUs per encoder actor; > 0 runs the "
                              "encoders on CUDA (fractions share a GPU).")
    task_cpus: float = Field(0.25, gt=0, le=64, description="CPUs per read/decode/write task.")
    stage_tasks: int = Field(
        0, ge=0, description="Decode tasks, and write tasks, that may run at once; 0 = one of "
        "each per CPU of the encoder actors (no limit with GPU actors, which need many decoders "
        "each). Every task's worker process imports the decoders when it starts: with no limit, "
        "Ray starts one per free task slot at once, and on a small machine their start-up "
        "delays the actors' own model loads.",
    )
    batch_items: int = Field(32, ge=1, description="Items per encoder call.")
    commit_rows: int = Field(
        4096, ge=1, description="Commit the written fragments once this many rows wait (one "
        "LanceDB version each; a driver killed before a commit loses only uncommitted work).",
    )
    commit_seconds: float = Field(10.0, gt=0, description="...or once this long has passed.")
    local_cpus: int = Field(
        0, ge=0, description="Logical CPUs of the Ray started by --ray local; 0 = this machine's.",
    )


class ServerSettings(BaseModel):
    """The gRPC edge, and the HTTP edge next to it (``http_port``)."""

    host: str = "127.0.0.1"
    port: int = Field(50051, ge=0, le=65535)
    index_root: Path | None = Field(
        None, description="Folder that IndexPath may read under; unset disables IndexPath."
    )
    tokens_file: Path | None = Field(None, description="File with one bearer token per line.")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = Field(None, description="CA for client certs: enables mTLS.")
    max_message_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_items_per_request: int = Field(1024, ge=1)
    max_concurrent_rpcs: int = Field(64, ge=1)
    batch_wait_ms: float = Field(2.0, ge=0.0, description="Dynamic batching wait bound.")
    max_batch_size: int = Field(64, ge=1)
    grace_seconds: float = Field(10.0, ge=0.0)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    http_port: int | None = Field(
        None, ge=0, le=65535,
        description="Serve the HTTP/JSON API and the web app here too (same host, tokens, TLS "
        "and limits); unset: gRPC only.",
    )
    verify_interval: float | None = Field(
        None, gt=0.0,
        description="Seconds between scheduled full verifies of every collection (as "
        "`omnivec collections verify`; damage is logged with its recovery command). Unset: off.",
    )
    memory_trim_seconds: float = Field(
        5.0, ge=0.0,
        description="Seconds between returns of the memory the server freed to the operating "
        "system (glibc's malloc_trim; 0 = never, and pyarrow keeps its own pool in a server "
        "started in process). Without it a busy server's resident memory keeps growing with "
        "freed memory the allocators hold (README, Reliability).",
    )


# LanceDB's caches, bounded far below its own defaults (1 GiB of metadata, 6 GiB of indices):
# see omnivec.indexer.storage.lance_cache.
DEFAULT_METADATA_CACHE_MB = 16
DEFAULT_INDEX_CACHE_MB = 512


class StorageSettings(BaseModel):
    """Object storage, used when ``data_dir`` is a URI (``s3://bucket/prefix``; ``gs://`` and
    ``az://`` are passed to LanceDB as they are). Every field left unset falls back to the
    variable the AWS tools and LanceDB read (named in each description), so a shell set up for
    ``aws s3`` works as it is. Secrets are SecretStr: never printed, logged or described."""

    endpoint: str | None = Field(
        None, description="S3 endpoint URL for S3-compatible stores (AWS_ENDPOINT_URL)."
    )
    region: str | None = Field(None, description="Region (AWS_REGION, AWS_DEFAULT_REGION).")
    access_key_id: str | None = Field(None, description="Access key id (AWS_ACCESS_KEY_ID).")
    secret_access_key: SecretStr | None = Field(
        None, description="Secret access key (AWS_SECRET_ACCESS_KEY)."
    )
    session_token: SecretStr | None = Field(
        None, description="Session token of temporary credentials (AWS_SESSION_TOKEN)."
    )
    allow_http: bool | None = Field(
        None, description="Allow a plain-http endpoint, e.g. a local test store (AWS_ALLOW_HTTP)."
    )
    read_consistency_seconds: float | None = Field(
        None,
        ge=0.0,
        description="How stale a replica may read: at most this often each open collection "
        "checks the store for other processes' commits (LanceDB's read_consistency_interval), "
        "and its ANN index catches up from the table version. Unset: 1 s for an object-store "
        "data_dir, never for a local one (the one writer is this process). 0: check on every read.",
    )
    metadata_cache_mb: int = Field(
        DEFAULT_METADATA_CACHE_MB, ge=1, le=65536,
        description="LanceDB's cache of table metadata (the manifests and fragment lists of the "
        "versions read), MiB per opened data directory (shared by its collections). Each write is a new version, so LanceDB's "
        "own 1 GiB default lets a busy server's memory grow for hours.",
    )
    index_cache_mb: int = Field(
        DEFAULT_INDEX_CACHE_MB, ge=1, le=65536,
        description="LanceDB's cache of loaded indices (the keyword index, scalar indices), MiB "
        "per opened data directory (shared by its collections).",
    )
    max_retries: int = Field(
        3, ge=0, le=20, description="Retries of a failed store request (connection, 5xx)."
    )
    retry_timeout_seconds: float = Field(
        10.0, gt=0.0, description="Give up retrying a store request after this long."
    )
    options: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Further object_store options passed to LanceDB as they are (e.g. "
        "google_service_account, azure_storage_account_key); treated as secrets.",
    )


class Settings(BaseSettings):
    """Everything configurable in omnivec."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIVEC_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path | str = Field(
        Path("omnivec-data"),
        description="Where collections live: a local folder, or an object-store URI "
        "(s3://bucket/prefix; gs:// and az:// pass through to LanceDB) kept as a string.",
    )
    offline: bool = Field(
        False,
        description="Forbid every network call: weights must already be on disk; a missing one "
        "is a clear error instead of a download.",
    )
    device: str = Field("cpu", description="torch device for CLIP and the text encoder.")
    torch_threads: int = Field(
        0,
        ge=0,
        description="Intra-op threads for torch and CTranslate2; 0 = chosen by the work "
        "(omnivec.indexer.threads): every core for a large batch on an idle machine, half the "
        "cores (at least 1) for queries, for Whisper, and for batches on a busy machine. More "
        "threads than free cores make OpenMP spin: on a busy 2-core machine 2 threads made a "
        "single MiniLM query 7x slower than 1 (bench fig1.threads, fig1.threads_by_work).",
    )
    exports_dir: Path | None = Field(
        None,
        description="Where ONNX/OpenVINO exports of the encoders are cached; empty means "
        "$XDG_CACHE_HOME/omnivec/exports (~/.cache/omnivec/exports).",
    )
    decode_workers: int = Field(
        2, ge=1, le=64, description="Threads decoding and preprocessing media off the model thread."
    )
    clip: ClipSettings = ClipSettings()
    text: TextSettings = TextSettings()
    speech: SpeechSettings = SpeechSettings()
    index: IndexSettings = IndexSettings()
    ray: RaySettings = RaySettings()
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()

    @field_validator("data_dir", mode="before")
    @classmethod
    def _path_or_uri(cls, value: object) -> object:
        # A URI stays a string (Path("s3://b/x") would collapse the "//"); anything else is a
        # local folder. file:// URIs are local folders too.
        if isinstance(value, str):
            if value.startswith("file://"):
                return Path(value[len("file://"):])
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
                return value
            return Path(value)
        return value

    @property
    def effective_exports_dir(self) -> Path:
        if self.exports_dir is not None:
            return self.exports_dir.expanduser()
        cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache_home) / "omnivec" / "exports"

    @property
    def effective_torch_threads(self) -> int:
        return self.torch_threads or max(1, (os.cpu_count() or 2) // 2)

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value != "cpu" and not value.startswith(("cuda", "mps")):
            raise ValueError("device must be 'cpu', 'cuda', 'cuda:N' or 'mps'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML path lives in model_config; load_settings makes a subclass per file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from (optionally) a TOML file, the environment and explicit overrides.

    Raises :class:`ConfigError` naming the file and the bad field instead of a pydantic traceback.
    """
    path = config_file
    if path is None and os.environ.get("OMNIVEC_CONFIG"):
        path = Path(os.environ["OMNIVEC_CONFIG"])
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass an existing TOML file")
    clean = {key: value for key, value in overrides.items() if value is not None}
    # A subclass per call keeps the file choice local: one process may load several configs.
    settings_cls: type[Settings] = type(
        "Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
    )
    try:
        return settings_cls(**clean)
    except ValidationError as exc:
        where = f"config file {path}" if path else "settings"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid {where} (or OMNIVEC_* variables): {problems}") from exc
    except Exception as exc:  # TOML syntax errors surface as tomllib.TOMLDecodeError
        if path is not None and type(exc).__name__ == "TOMLDecodeError":
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        raise
