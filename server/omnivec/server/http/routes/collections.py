"""Collections: list, create, describe, delete, snapshot, restore, verify (CollectionService)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from omnivec.indexer.errors import CorruptDataError, InvalidInputError, NotFoundError
from omnivec.server.http import convert
from omnivec.server.http import schemas as s
from omnivec.server.http.routes import engine

__all__ = ["router"]

log = logging.getLogger("omnivec.server.http")
router = APIRouter(tags=["collections"])


@router.get("/collections", response_model=list[s.CollectionOut])
def list_collections(request: Request) -> list[s.CollectionOut]:
    """Every collection with its counts per modality, spaces, encoders and size (a damaged one
    is left out and logged; GET it to see the damage and the recovery command)."""
    eng = engine(request)
    out = []
    for name in eng.list_collections():
        try:
            out.append(convert.collection(eng.describe_collection(name)))
        except NotFoundError:
            continue
        except CorruptDataError as exc:
            log.warning("collection list skips damaged collection %r: %s", name, exc)
    return out


@router.post("/collections", response_model=s.CollectionOut, status_code=201)
def create_collection(request: Request, body: s.CollectionIn) -> s.CollectionOut:
    eng = engine(request)
    spaces = list(dict.fromkeys(body.spaces)) or None
    eng.create_collection(body.name, spaces, exist_ok=body.if_not_exists)
    return convert.collection(eng.describe_collection(body.name))


@router.get("/collections/{name}", response_model=s.CollectionOut)
def get_collection(request: Request, name: str) -> s.CollectionOut:
    return convert.collection(engine(request).describe_collection(name))


@router.delete("/collections/{name}", response_model=s.DeleteOut)
def delete_collection(request: Request, name: str, if_exists: bool = False) -> s.DeleteOut:
    try:
        engine(request).delete_collection(name)
    except NotFoundError:
        if if_exists:
            return s.DeleteOut(deleted=False)
        raise
    return s.DeleteOut(deleted=True)


@router.post("/collections/{name}/snapshots", response_model=s.SnapshotOut, status_code=201)
def snapshot_collection(request: Request, name: str, body: s.SnapshotIn) -> s.SnapshotOut:
    return convert.snapshot(engine(request).snapshot_collection(name, body.tag))


@router.post("/collections/{name}/restore", response_model=s.CollectionOut)
def restore_collection(request: Request, name: str, body: s.RestoreIn) -> s.CollectionOut:
    if (body.tag is None) == (body.version is None):
        raise InvalidInputError("give the version to restore: a tag or a version number")
    info = engine(request).restore_collection(name, tag=body.tag, version=body.version)
    return convert.collection(info)


@router.post("/collections/{name}/verify", response_model=s.VerifyOut)
def verify_collection(request: Request, name: str) -> s.VerifyOut:
    """A full check (checksums of the data files, every row, the ANN indexes, the probes): the
    damage found, and the command that recovers it. Damage is an answer, not an error."""
    report = engine(request).verify_collection(name)
    return s.VerifyOut(
        collection=report.collection, lance_version=report.lance_version,
        rows_read=report.rows_read, data_files_checked=report.data_files_checked,
        data_files_unrecorded=report.data_files_unrecorded, probes_checked=report.probes_checked,
        problems=list(report.problems), recovery=report.recovery, ok=report.ok,
    )
