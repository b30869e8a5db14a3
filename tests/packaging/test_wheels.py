"""The built wheels run on their own: `pip install omnivec` from them serves, and the SDK talks to it.

The wheels are built here (no network: `--no-build-isolation` with the test extra's hatchling) and
installed into a fresh venv that sees this venv's third-party packages but none of omnivec's code:
the source tree's editable paths are not on its sys.path, and it runs outside the repository.
Only what the `omnivec` wheel declares gets installed with it, so a missing dependency on
`omnivec-client` (which ships `omnivec.client` and `omnivec.v1`) fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from omnivec.server.announce import serving_address
from tests.support.paths import REPO
from tests.support.processes import drain

pytestmark = pytest.mark.slow

_OMNIVEC_PARTS = ("omnivec", "_omnivec", "__editable__")


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL, env=_clean_env(),
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def _third_party_overlay(target: Path) -> Path:
    """This venv's site-packages minus omnivec's own entries, as a folder of symlinks."""
    target.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(_OMNIVEC_PARTS):
            (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheels")
    wheels = root / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", wheels, REPO, REPO / "clients" / "python", cwd=root)
    assert sorted(p.name.split("-")[0] for p in wheels.glob("*.whl")) == ["omnivec", "omnivec_client"]
    venv = root / "venv"
    # No pip or setuptools of its own: the overlay's (the same as this venv's) are used.
    _run(sys._base_executable, "-m", "venv", "--without-pip", venv, cwd=root)  # type: ignore[attr-defined]
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=root).strip())
    (site / "_third_party.pth").write_text(f"{_third_party_overlay(root / 'third_party')}\n")
    # Only `omnivec` is asked for: omnivec-client must come in as its declared dependency.
    _run(python, "-m", "pip", "install", "-q", "--no-index", "--find-links", wheels, "omnivec",
         cwd=root)
    _run(python, "-m", "pip", "check", cwd=root)
    return venv


def test_the_wheels_install_every_omnivec_package(wheel_venv: Path, tmp_path: Path) -> None:
    script = "import json, omnivec.cli, omnivec.client, omnivec.indexer, omnivec.server, omnivec.v1; " \
        "print(json.dumps({m.__name__: m.__file__ for m in (omnivec.cli, omnivec.client, " \
        "omnivec.indexer, omnivec.server, omnivec.v1)}))"
    files = json.loads(_run(wheel_venv / "bin" / "python", "-c", script, cwd=tmp_path))
    for name, file in files.items():
        assert Path(file).is_relative_to(wheel_venv), (name, file)  # not the source tree
    # Data files travel with the code: the static int8 export's calibration texts.
    count = _run(wheel_venv / "bin" / "python", "-c",
                 "from omnivec.indexer.encoders.text_exports import calibration_texts; "
                 "print(len(calibration_texts()))", cwd=tmp_path)
    assert int(count) == 300


def test_omnivec_serve_and_the_sdk_from_the_wheels(
    wheel_venv: Path, settings_env: dict[str, str], tmp_path: Path
) -> None:
    server = subprocess.Popen(
        [str(wheel_venv / "bin" / "omnivec"), "serve", "--host", "127.0.0.1", "--port", "0",
         "--http-port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
        env=_clean_env(**settings_env, OMNIVEC_DATA_DIR=str(tmp_path / "data")),
    )
    logged, _ = drain(server.stderr)  # the server logs every RPC: a full pipe would block it
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        address = serving_address(line)
        if not address and server.poll() is None:
            server.wait(30)
        assert address, line + "".join(logged)
        sdk = textwrap.dedent(f"""
            import json, time
            from omnivec.client import Client, Media, UpsertItem
            with Client({address!r}, timeout=120) as client:
                for _ in range(600):
                    if client.health() == "SERVING":
                        break
                    time.sleep(0.2)
                client.create_collection("notes", ["text"])
                client.upsert("notes", [UpsertItem(Media(text="the espresso machine makes crema")),
                                        UpsertItem(Media(text="tomorrow will be sunny"))])
                hits = client.search("notes", text="coffee", k=1)
                print(json.dumps([h.span.text for h in hits if h.span]))
        """)
        texts = json.loads(_run(wheel_venv / "bin" / "python", "-c", sdk, cwd=tmp_path))
        assert texts == ["the espresso machine makes crema"]
        # The web app and its static files came with the wheel, and its API sees the same data.
        web = re.search(r"omnivec web app on (\S+)", server.stdout.readline())
        assert web, "no web app line"
        import urllib.request

        for path in ("", "static/js/main.js", "static/app.css", "docs-static/swagger-ui-bundle.js"):
            with urllib.request.urlopen(web.group(1) + path, timeout=30) as response:
                assert response.status == 200, path
        with urllib.request.urlopen(web.group(1) + "api/collections", timeout=30) as response:
            assert [c["name"] for c in json.load(response)] == ["notes"]
    finally:
        server.terminate()
        server.wait(60)
