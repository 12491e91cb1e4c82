"""The seam between reconciler and a tenant: the `Provider` protocol and its errors.

A provider reads the whole tenant and applies one change at a time; `apply.py` decides the order,
the retries and the progress shown. Each provider translates its backend's errors (sqlite3, HTTP)
into this tree at the seam, chained with `from exc`:

ReconcilerError              every error a user can cause (reconciler.errors); exit code 1
├── InputError               a tenant file is unreadable or damaged (not SQLite, wrong version)
├── LicensingError           Entra refuses the change (reconciler.engine.licensing)
└── ProviderError            the tenant couldn't be read or written
    └── TenantBusyError      another apply holds the tenant
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from reconciler.directory_audit import AuditQuery, DirectoryAudit
from reconciler.errors import ReconcilerError
from reconciler.model import Tenant
from reconciler.plan.changes import NEW_ID_PREFIX, Change

__all__ = [
    "AppliedChange",
    "Provider",
    "ProviderError",
    "TenantBusyError",
    "collector_paused",
    "real_id",
]


class ProviderError(ReconcilerError):
    """The tenant couldn't be read or written: a backend failure, translated at the seam."""


class TenantBusyError(ProviderError):
    """Another apply holds the tenant; try again once it has finished."""


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """What the tenant did with one change."""

    # the change as the tenant took it: placeholder ids (`new:<name>`) replaced by real ones
    change: Change
    # the real object id of the group changed; for CreateGroup, the id the tenant gave it
    groupId: str
    # False when the tenant settles licenses later (Graph processes group licenses
    # asynchronously), so a read right after may not show the change's effect on users yet
    settled: bool = True
    # True when Entra reported the group's license processing after the change as failed
    # (licenseProcessingState ProcessingFailed): some members may lack the group's licenses
    processingFailed: bool = False


def real_id(object_id: str, created: Mapping[str, str]) -> str:
    """The id a tenant gave a group created this session, for its plan placeholder `new:...`."""
    if not object_id.startswith(NEW_ID_PREFIX):
        return object_id
    if object_id not in created:
        raise ProviderError(f"group {object_id} hasn't been created; apply its creation first")
    return created[object_id]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Holds off Python's cyclic garbage collector while a tenant is read, built or written."""
    # a large tenant is millions of new objects without cycles; the collector would pass over
    # them again and again as they pile up, which takes half a read's time or more
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # and then leaves them out of its passes: they stay, and each pass over them would cost
        # a read's time again (objects without cycles are freed when let go of, all the same)
        gc.freeze()
        if enabled:
            gc.enable()


class Provider(Protocol):
    """A tenant that can be read whole and changed one change at a time.

    Microsoft Graph will implement it thus: `read` follows `@odata.nextLink` pages of
    `/subscribedSkus`, `/users` and `/groups` (with `$expand=members`) into one Tenant; `apply`
    makes one request per change (`POST /groups`, `PATCH /groups/{id}`, `POST .../members/$ref`,
    `POST /groups/{id}/assignLicense`, `DELETE /groups/{id}`), translating placeholder ids as
    the local tenant does, and returns `settled=False` for license changes, which Entra
    processes in the background; `close` closes the HTTP client.
    """

    def read(self) -> Tenant:
        """The tenant as it is now."""
        ...

    def apply(self, change: Change) -> AppliedChange:
        """Make one change, all of it or none of it."""
        ...

    def apply_together(self, changes: Sequence[Change]) -> list[AppliedChange]:
        """Make several license changes of one group as one change of its licenses, which
        Entra processes at once (all or nothing for each member)."""
        ...

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Entra's reprocessLicenseAssignment for each user; what failed, by user id."""
        ...

    def directory_audits(self, query: AuditQuery) -> Iterator[DirectoryAudit]:
        """Entra's directory audit records (Core Directory's) that match `query`, newest first.

        Each says what changed (activityDisplayName: "Update group", "Add member to group",
        "Set group license", ...), when (activityDateTime, UTC) and who did it (initiatedBy: a
        user, or an app: "reconciler" for reconciler's own writes to a local tenant, the app's
        own name through Graph, or an Entra service such as group-based licensing); the group
        or user is among targetResources, with the properties changed and their old and new
        values. Entra keeps them 30 days (with Entra ID P1, which group-based licensing
        needs); a local tenant keeps every one. Who changed a group outside reconciler: its
        records whose initiator is neither reconciler (the app "reconciler" locally, its app
        registration's appId through Graph) nor Entra itself (`is_entra_service`).
        ProviderError when the tenant has no audit log (a snapshot) or it can't be read.
        """
        ...

    def close(self) -> None:
        """Release what the provider holds (connections, locks); safe to call twice."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
