"""Channel set-up shared by the sync and async clients: options, retry policy, stubs, health.

Retries are gRPC's own (a service config retryPolicy), so they work identically on grpc and
grpc.aio channels, back off exponentially with jitter, and stay within each call's deadline.
They cover only calls that are safe to repeat: reads and pure computations. Writes (Upsert,
CreateCollection, deletes) and long streaming jobs are never retried by the client.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from omnivec.client.errors import InvalidArgument
from omnivec.v1 import (
    classify_pb2_grpc,
    collections_pb2_grpc,
    embed_pb2_grpc,
    indexing_pb2_grpc,
    probes_pb2_grpc,
    search_pb2_grpc,
)

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# gRPC caps attempts at 5, i.e. 4 retries.
MAX_RETRIES = 4
INITIAL_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
BACKOFF_MULTIPLIER = 2.0

HEALTH_SERVICE = "grpc.health.v1.Health"
HEALTH_CHECK_METHOD = f"/{HEALTH_SERVICE}/Check"

# Methods safe to repeat after UNAVAILABLE: they change nothing on the server.
IDEMPOTENT_METHODS: dict[str, tuple[str, ...]] = {
    "omnivec.v1.CollectionService": ("ListCollections", "GetCollection"),
    "omnivec.v1.SearchService": ("Search",),
    "omnivec.v1.EmbedService": ("Embed", "Transcribe"),
    "omnivec.v1.ClassifyService": ("ZeroShotClassify",),
    "omnivec.v1.ProbeService": ("ListProbes", "GetProbe", "Classify"),
    HEALTH_SERVICE: ("Check",),
}


def service_config(retries: int) -> str:
    """The JSON service config that retries idempotent methods on UNAVAILABLE."""
    if retries == 0:
        return json.dumps({"methodConfig": []})
    names = [
        {"service": service, "method": method}
        for service, methods in IDEMPOTENT_METHODS.items()
        for method in methods
    ]
    policy = {
        "maxAttempts": retries + 1,
        "initialBackoff": f"{INITIAL_BACKOFF_SECONDS}s",
        "maxBackoff": f"{MAX_BACKOFF_SECONDS}s",
        "backoffMultiplier": BACKOFF_MULTIPLIER,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    return json.dumps({"methodConfig": [{"name": names, "retryPolicy": policy}]})


def channel_options(retries: int, max_message_bytes: int) -> list[tuple[str, Any]]:
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise InvalidArgument(f"retries must be an int from 0 to {MAX_RETRIES}, got {retries!r}")
    if max_message_bytes <= 0:
        raise InvalidArgument(f"max_message_bytes must be positive, got {max_message_bytes}")
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.enable_retries", 1 if retries else 0),
        ("grpc.service_config", service_config(retries)),
    ]


def _stub(stub_class: Any, channel: Any) -> Any:
    # The generated stubs are untyped; the clients' typed methods are the checked surface.
    return stub_class(channel)


class Stubs:
    """One generated stub per service over a channel (grpc or grpc.aio alike)."""

    def __init__(self, channel: Any) -> None:
        self.collections = _stub(collections_pb2_grpc.CollectionServiceStub, channel)
        self.indexing = _stub(indexing_pb2_grpc.IndexingServiceStub, channel)
        self.search = _stub(search_pb2_grpc.SearchServiceStub, channel)
        self.embed = _stub(embed_pb2_grpc.EmbedServiceStub, channel)
        self.classify = _stub(classify_pb2_grpc.ClassifyServiceStub, channel)
        self.probes = _stub(probes_pb2_grpc.ProbeServiceStub, channel)
        self.health_check: Any = channel.unary_unary(
            HEALTH_CHECK_METHOD,
            request_serializer=HealthCheckRequest.SerializeToString,
            response_deserializer=HealthCheckResponse.FromString,
        )


def _health_messages() -> tuple[Any, Any]:
    """The two messages of grpc.health.v1.Health/Check, built at import time.

    The standard health service's messages are defined here, in a private descriptor pool, so
    that the client needs neither grpcio-health-checking nor a copy of health.proto, and cannot
    clash with a process that loads the real grpc_health module.
    """
    file = descriptor_pb2.FileDescriptorProto(
        name="omnivec_client_health.proto", package="grpc.health.v1", syntax="proto3"
    )
    request = file.message_type.add(name="HealthCheckRequest")
    request.field.add(
        name="service",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    response = file.message_type.add(name="HealthCheckResponse")
    response.field.add(
        name="status",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{file.package}.{request.name}")
        ),
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{file.package}.{response.name}")
        ),
    )


HealthCheckRequest, HealthCheckResponse = _health_messages()
# grpc.health.v1.HealthCheckResponse.ServingStatus; the enum is read as its int32 wire value.
HEALTH_STATUS_NAMES = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")


def health_status_name(response: Any) -> str:
    status: int = response.status
    return HEALTH_STATUS_NAMES[status] if 0 <= status < len(HEALTH_STATUS_NAMES) else "UNKNOWN"
