"""Offline operation (proven with `unshare -n`), configuration, and the weights error messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from omnivec.indexer.config import ClipSettings, load_settings
from omnivec.indexer.encoders.clip import resolve_clip_weights
from omnivec.indexer.errors import ConfigError, WeightsUnavailableError
from tests.support.paths import OMNIVEC_BIN, SPEECH
from tests.support.processes import invoke_cli, unshare_available

needs_unshare = pytest.mark.skipif(
    not unshare_available(), reason="`unshare -n` is not permitted here (needs root or userns)"
)


@pytest.mark.offline
@needs_unshare
def test_embed_and_transcribe_work_with_no_network(cli_env: dict[str, str], photos) -> None:  # type: ignore[no-untyped-def]
    def offline(*args: str):  # type: ignore[no-untyped-def]
        import subprocess

        return subprocess.run(
            ["unshare", "-n", str(OMNIVEC_BIN), *args], capture_output=True, text=True,
            env={**os.environ, **cli_env}, timeout=300,
        )

    text = offline("embed", "--text", "a cat on a sofa", "--json")
    assert text.returncode == 0, text.stderr
    assert json.loads(text.stdout)["dim"] == 384

    image = offline("embed", "--image", str(photos["chelsea"]), "--json")
    assert image.returncode == 0, image.stderr
    vector = json.loads(image.stdout)["embeddings"][0]["vector"]
    assert len(vector) == 64

    speech = offline("transcribe", str(SPEECH / "weather.wav"), "--json")
    assert speech.returncode == 0, speech.stderr
    result = json.loads(speech.stdout)
    assert "weather" in result["text"].lower()
    assert result["segments"][0]["end"] > result["segments"][0]["start"]


@pytest.mark.offline
@needs_unshare
def test_pretrained_tag_without_cache_fails_clearly_offline(tmp_path: Path) -> None:
    import subprocess

    env = {
        **os.environ,
        "OMNIVEC_CLIP__CACHE_DIR": str(tmp_path / "empty-cache"),
        "OMNIVEC_OFFLINE": "0",  # even allowed to download, no network means a clear error
        "OMNIVEC_DATA_DIR": str(tmp_path / "data"),
    }
    for key in ("OMNIVEC_CLIP__CHECKPOINT", "OMNIVEC_CLIP__MODEL"):
        env.pop(key, None)
    result = subprocess.run(
        ["unshare", "-n", str(OMNIVEC_BIN), "embed", "--text", "x", "--space", "clip"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 2
    assert "ViT-B-32" in result.stderr and "laion2b_s34b_b79k" in result.stderr
    assert "OMNIVEC_CLIP__CHECKPOINT" in result.stderr
    assert "Traceback" not in result.stderr


def test_offline_setting_refuses_download_naming_model_tag_and_setting(tmp_path: Path) -> None:
    cfg = ClipSettings(model="ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=tmp_path)
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_clip_weights(cfg, offline=True)
    message = str(info.value)
    assert "'ViT-B-32'" in message and "'laion2b_s34b_b79k'" in message
    assert "clip.checkpoint" in message and "OMNIVEC_CLIP__CHECKPOINT" in message


def test_random_weights_are_never_a_default() -> None:
    cfg = ClipSettings(model="ViT-B-32", pretrained=None)
    with pytest.raises(WeightsUnavailableError, match="no CLIP weights configured"):
        resolve_clip_weights(cfg, offline=False)


def test_missing_checkpoint_and_unknown_tag(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        resolve_clip_weights(ClipSettings(checkpoint=tmp_path / "nope.pt"), offline=True)
    with pytest.raises(ConfigError, match="known tags"):
        resolve_clip_weights(ClipSettings(pretrained="no-such-tag"), offline=True)


def test_checkpoint_folder_is_accepted(tiny_clip_checkpoint: Path, settings_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "open_clip_pytorch_model.bin").write_bytes(tiny_clip_checkpoint.read_bytes())
    cfg = ClipSettings(
        model=settings_env["OMNIVEC_CLIP__MODEL"],
        architecture_file=Path(settings_env["OMNIVEC_CLIP__ARCHITECTURE_FILE"]),
        checkpoint=folder,
    )
    model, pretrained, identity = resolve_clip_weights(cfg, offline=True)
    assert pretrained == str(folder / "open_clip_pytorch_model.bin")
    assert identity.startswith("sha256:")


def test_toml_env_and_override_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnivec.toml"
    config.write_text('offline = true\ndata_dir = "/from/toml"\n[clip]\nbatch_size = 3\n[text]\nbatch_size = 5\n')
    monkeypatch.setenv("OMNIVEC_CLIP__BATCH_SIZE", "7")
    settings = load_settings(config, data_dir=tmp_path / "cli")
    assert settings.offline is True  # from TOML
    assert settings.text.batch_size == 5  # from TOML
    assert settings.clip.batch_size == 7  # env beats TOML
    assert settings.data_dir == tmp_path / "cli"  # explicit override beats both


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[clip]\nbatch_size = -1\n")
    with pytest.raises(ConfigError, match=r"clip\.batch_size"):
        load_settings(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings(unknown)


def test_models_list_reports_sources_and_offline_availability(cli_env: dict[str, str]) -> None:
    result = invoke_cli("models", "list", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = {row["encoder"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"clip", "text", "speech"}
    assert all(row["available_offline"] for row in rows.values())
    assert "tiny_clip.pt" in rows["clip"]["source"]
    # text.backend "auto" is the fp32 ONNX export on the CPU (made by the first load, if any yet)
    assert (rows["text"]["backend"], rows["text"]["precision"]) == ("onnx", "fp32")
    assert rows["text"]["export"] in ("ready", "not exported yet")


def test_models_list_shows_the_export_state_without_making_one(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    env = {**cli_env, "OMNIVEC_TEXT__BACKEND": "onnx-int8", "OMNIVEC_EXPORTS_DIR": str(exports)}
    result = invoke_cli("models", "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    text = next(row for row in json.loads(result.stdout) if row["encoder"] == "text")
    assert (text["backend"], text["precision"], text["export"]) == (
        "onnx-int8", "int8", "not exported yet"
    )
    assert not exports.exists()  # listing never exports


def test_models_export_makes_the_exports_once_and_offline(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`omnivec models export` makes a backend's export ahead of the first server start or index
    run, from the local weights (tiny CLIP here), keeps it on a second run, and says so."""
    exports = tmp_path / "exports"
    env = {**cli_env, "OMNIVEC_EXPORTS_DIR": str(exports)}
    args = ("models", "export", "--encoder", "clip", "--backend", "onnx", "--json")
    first = invoke_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == [
        {"encoder": "clip", "backend": "onnx", "precision": "fp32", "export": "ready", "made": True}
    ]
    made = sorted(p.relative_to(exports) for p in exports.rglob("model.onnx"))
    assert len(made) == 2  # the image and the text tower
    again = invoke_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["made"] is False
    assert sorted(p.relative_to(exports) for p in exports.rglob("model.onnx")) == made
    listed = invoke_cli("models", "list", "--json", env={**env, "OMNIVEC_CLIP__BACKEND": "onnx"})
    clip = next(row for row in json.loads(listed.stdout) if row["encoder"] == "clip")
    assert clip["export"] == "ready"
    # torch has nothing to export; a wrong backend or encoder is a clear error.
    torch_row = json.loads(invoke_cli("models", "export", "--encoder", "clip", "--json",
                                      env=env).stdout)
    assert torch_row[0]["backend"] == "torch" and torch_row[0]["made"] is False
    bad = invoke_cli("models", "export", "--encoder", "clip", "--backend", "auto", env=env)
    assert bad.returncode != 0 and "'auto' is not a clip backend" in bad.stderr
    unknown = invoke_cli("models", "export", "--encoder", "speech", env=env)
    assert unknown.returncode != 0 and "unknown embedding encoder 'speech'" in unknown.stderr


def test_registry_rejects_duplicates_and_bad_settings() -> None:
    from pydantic import BaseModel

    from omnivec.indexer.config import ClipSettings
    from omnivec.indexer.encoders.registry import get_entry, register

    class Cfg(BaseModel):
        enabled: bool = True

    def describe(_settings: object) -> object:
        raise AssertionError("never called at registration")

    with pytest.raises(ValueError, match="already registered"):
        register("clip", settings=ClipSettings, role="embedding", describe_weights=describe)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pydantic model"):
        register("other", settings=dict, role="embedding", describe_weights=describe)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown role"):
        register("other", settings=Cfg, role="painting", describe_weights=describe)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Settings\.other"):  # settings are read by name
        register("other", settings=Cfg, role="embedding", describe_weights=describe)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="registered encoders"):
        get_entry("nope")


def test_hub_weights_and_spaces_derive_from_the_registry() -> None:
    from omnivec.indexer.config import Settings
    from omnivec.indexer.encoders.registry import Role, embedding_spaces, entries, space_entry
    from omnivec.indexer.errors import InvalidInputError
    from omnivec.indexer.models import EMBEDDING_SPACES, ModelHub, describe_weights

    assert [e.name for e in entries()] == ["clip", "text", "speech"]
    assert EMBEDDING_SPACES == embedding_spaces() == ("clip", "text")
    assert [e.name for e in entries(Role.TRANSCRIPTION)] == ["speech"]
    settings = Settings(clip={"enabled": False})
    assert [w.encoder for w in describe_weights(settings)] == ["text", "speech"]
    with pytest.raises(InvalidInputError, match="unknown space 'speech'; use one of: clip, text"):
        space_entry("speech")
    hub = ModelHub(settings)
    with pytest.raises(InvalidInputError, match="unknown space"):
        hub.embedder("nope")
    with pytest.raises(Exception, match="clip.enabled = false"):
        hub.clip()
