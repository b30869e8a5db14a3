"""What a distributed indexing run asks for: where Ray is, and the encoder actors' resources.

Importable without Ray, so the CLI and the engine can take a :class:`RayJob` and give a precise
error when the ``distributed`` extra is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from omnivec.indexer.config import RaySettings
from omnivec.indexer.errors import InvalidInputError

__all__ = ["DISTRIBUTED_EXTRA_HINT", "RayJob"]

DISTRIBUTED_EXTRA_HINT = "install the distributed extra: pip install 'omnivec[distributed]'"

_HOST_PORT = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True)
class RayJob:
    """A run on Ray: ``address`` is ``local`` (start a Ray on this machine for the run),
    ``auto`` (join the cluster this machine belongs to), ``ray://HOST:PORT`` (Ray Client) or a
    cluster's ``HOST:PORT`` (its GCS address). Unset resources come from ``[ray]`` settings."""

    address: str
    actors: int | None = None
    actor_cpus: float | None = None
    actor_gpus: float | None = None

    def __post_init__(self) -> None:
        address = self.address.strip()
        if not (address in ("local", "auto") or address.startswith("ray://") or _HOST_PORT.match(address)):
            raise InvalidInputError(
                f"--ray {self.address!r} is not a Ray address: use 'local' (start Ray here), "
                "'auto' (join this machine's cluster), 'ray://HOST:PORT' or 'HOST:PORT'"
            )
        object.__setattr__(self, "address", address)
        if self.actors is not None and self.actors < 1:
            raise InvalidInputError(f"--ray-actors must be >= 1, got {self.actors}")
        if self.actor_cpus is not None and self.actor_cpus <= 0:
            raise InvalidInputError(f"--ray-actor-cpus must be > 0, got {self.actor_cpus}")
        if self.actor_gpus is not None and self.actor_gpus < 0:
            raise InvalidInputError(f"--ray-actor-gpus must be >= 0, got {self.actor_gpus}")

    def resolve(self, defaults: RaySettings) -> RaySettings:
        """The ``[ray]`` settings with this job's explicit choices applied."""
        chosen = {
            name: value
            for name, value in (
                ("actors", self.actors), ("actor_cpus", self.actor_cpus),
                ("actor_gpus", self.actor_gpus),
            )
            if value is not None
        }
        return defaults.model_copy(update=chosen)
