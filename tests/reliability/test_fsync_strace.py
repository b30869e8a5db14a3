"""Durability at the syscall level: the server runs under ``strace -f`` during a stream of
upserts, and the trace shows that before each Upsert answer reached the client, the files that
make the write durable were flushed.

* LanceDB's own files (data files, transaction records, manifests): LanceDB 0.40 writes them
  with temp file + rename (or a hard link for the manifest) and never calls fsync; omnivec
  flushes them after each commit, before acknowledging (``durable_files.fsync_table_commit``).
  Checked: every such file created before an answer was fsync'd before that answer, and so was
  its folder after the file was created.
* omnivec's own atomic files (``collection.json``, ``checksums/``, the FAISS index
  ``ann/<space>.faiss`` saved at shutdown, the probe store): the temp file is fsync'd before its
  rename (or link), and the folder after it.

"Before the answer" is judged with the time the client received it (strace ``-ttt`` and the
client read one clock): a flush logged after that time would be a write acknowledged before it
was on disk. Skipped, with the reason printed, only where strace cannot trace (not installed,
or ptrace forbidden in a container).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from omnivec.client import Client, ItemRef, LabelledExample, Media, UpsertItem
from omnivec.server.announce import SERVING, serving_address
from tests.support.paths import OMNIVEC_BIN
from tests.support.reliability import record, server_env

pytestmark = pytest.mark.reliability

UPSERTS = 6
_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_FSYNC = re.compile(r"^f(?:data)?sync\(\d+<([^>]*)>")
_MOVE = re.compile(r'^(?:renameat2?|rename|linkat|link)\(.*?"([^"]+)".*?"([^"]+)"')
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>.*= 0")


def _strace_problem(strace: str | None) -> str | None:
    if strace is None:
        return "strace is not installed (Debian package strace)"
    try:
        probe = subprocess.run(
            [strace, "-f", "-o", os.devnull, "true"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"strace cannot run here: {exc}"
    if probe.returncode != 0:
        return f"strace cannot trace here: {probe.stderr.strip()[:300]}"
    return None


def _parse(log: Path) -> tuple[dict[str, list[float]], list[tuple[float, str, str]]]:
    """(path -> times its fsync/fdatasync completed, [(time, source, target) of renames and
    links that succeeded])."""
    fsyncs: dict[str, list[float]] = defaultdict(list)
    moves: list[tuple[float, str, str]] = []
    pending: dict[str, str] = {}  # pid -> path of an unfinished fsync
    for raw in log.read_text(errors="replace").splitlines():
        match = _LINE.match(raw)
        if match is None:
            continue
        pid, stamp, call = match.group(1), float(match.group(2)), match.group(3)
        sync = _FSYNC.match(call)
        if sync is not None:
            if call.endswith("<unfinished ...>"):
                pending[pid] = sync.group(1)
            elif call.rstrip().endswith("= 0"):
                fsyncs[sync.group(1)].append(stamp)
            continue
        resumed = _RESUMED.match(call)
        if resumed is not None and resumed.group(1) in ("fsync", "fdatasync") and pid in pending:
            fsyncs[pending.pop(pid)].append(stamp)
            continue
        move = _MOVE.match(call)
        if move is not None and call.rstrip().endswith("= 0"):
            moves.append((stamp, move.group(1), move.group(2)))
    return fsyncs, moves


def _synced_between(fsyncs: dict[str, list[float]], path: str, start: float, end: float) -> bool:
    return any(start <= t <= end for t in fsyncs.get(path, ()))


def _server_pid(strace_pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("strace started no server")


def test_every_acknowledged_upsert_was_flushed_first(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    strace = shutil.which("strace")
    problem = _strace_problem(strace)
    if problem is not None:
        print(f"[fsync-strace] skipped: {problem}")
        pytest.skip(problem)
    assert strace is not None
    data_dir = (tmp_path / "data").resolve()
    log = tmp_path / "strace.log"
    process = subprocess.Popen(
        [strace, "-f", "--seccomp-bpf", "-ttt", "-y", "-o", str(log),
         "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat",
         str(OMNIVEC_BIN), "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=(tmp_path / "server.log").open("w"), text=True,
        env=server_env(settings_env, data_dir),
    )
    acks: list[float] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        target = serving_address(line)
        assert line.startswith(SERVING) and target, line
        with Client(target, retries=3, timeout=300) as client:
            deadline = time.monotonic() + 300
            while client.health() != "SERVING" and time.monotonic() < deadline:
                time.sleep(0.2)
            client.create_collection("docs", ["text"])
            acks.append(time.time())
            for n in range(UPSERTS):
                batch = [UpsertItem(Media(text=f"note number {n}"), id=f"n{n}")]
                if n == 0:  # two rows in one data file: deleting one writes a deletion file
                    batch.append(UpsertItem(Media(text="a note to delete"), id="doomed"))
                result = client.upsert("docs", batch)
                acks.append(time.time())
                assert {r.status for r in result} == {"ok"}
            client.delete_items("docs", ids=["doomed"])
            acks.append(time.time())
            client.train_probe("docs", "parity", [
                LabelledExample(ItemRef(f"n{n}"), "even" if n % 2 == 0 else "odd")
                for n in range(UPSERTS)
            ], space="text")
            acks.append(time.time())
        server_pid = _server_pid(process.pid)
        os.kill(server_pid, signal.SIGTERM)  # graceful: saves the FAISS index
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    end = time.time()

    fsyncs, moves = _parse(log)
    table = str(data_dir / "docs" / "rows.lance")
    lance_files = [
        (t, dst) for t, _src, dst in moves
        if dst.startswith(table + "/") and re.search(r"/(data/.*\.lance|_versions/\d+\.manifest|"
                                                      r"_deletions/[^/]+|_transactions/[^/]+)$", dst)
    ]
    assert any(dst.endswith(".manifest") for _, dst in lance_files), "no commit seen in the trace"
    assert any("/_deletions/" in dst for _, dst in lance_files), "the delete wrote no deletion file"
    checked = 0
    for created, path in lance_files:
        answer = next((a for a in acks if a >= created), None)
        if answer is None:
            continue  # written after the last answer (none is)
        assert _synced_between(fsyncs, path, created, answer), f"{path} not fsync'd before its answer"
        folder = str(Path(path).parent)
        assert _synced_between(fsyncs, folder, created, answer), f"{folder} not fsync'd after {path}"
        checked += 1
    own = [
        (t, src, dst) for t, src, dst in moves
        if dst.startswith(str(data_dir)) and not dst.startswith(table + "/")
    ]
    kinds = {part for _, _, dst in own for part in ("collection.json", "checksums/", "ann/", "probes/")
             if part in dst}
    assert kinds == {"collection.json", "checksums/", "ann/", "probes/"}, kinds
    for moved, src, dst in own:
        assert _synced_between(fsyncs, src, 0.0, moved), f"{src} not fsync'd before it became {dst}"
        answer = next((a for a in acks if a >= moved), end)
        folder = str(Path(dst).parent)
        assert _synced_between(fsyncs, folder, moved, answer), f"{folder} not fsync'd after {dst}"
    record("fsync-strace", acknowledged_calls=len(acks), lance_files_checked=checked,
           omnivec_files_checked=len(own))


def test_strace_parser_reads_unfinished_and_resumed_calls(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text(
        '7 10.5 renameat(AT_FDCWD</>, "/d/.tmp1", AT_FDCWD</>, "/d/x") = 0\n'
        "7 10.6 fsync(3</d/x> <unfinished ...>\n"
        "8 10.65 fsync(4</d> <unfinished ...>\n"
        "7 10.7 <... fsync resumed>) = 0\n"
        "8 10.8 <... fsync resumed>) = -1 EIO (Input/output error)\n"
        "9 10.9 fdatasync(5</d/y>) = 0\n"
    )
    fsyncs: Any
    fsyncs, moves = _parse(log)
    assert moves == [(10.5, "/d/.tmp1", "/d/x")]
    assert dict(fsyncs) == {"/d/x": [10.7], "/d/y": [10.9]}, "a failed fsync does not count"
