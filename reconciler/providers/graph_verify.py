"""Temporary groups through Microsoft Graph, to have Entra evaluate a membership rule.

`reconciler verify` (reconciler/verify.py) creates a security group with no licenses and the
rule to check, waits for Entra to evaluate it, reads its members and deletes it:

| step               | request                                                                 |
|--------------------|-------------------------------------------------------------------------|
| create             | POST /groups (dynamic security group, `membershipRuleProcessingState` On) |
| evaluated yet?     | GET /beta/groups/{id}?$select=membershipRuleProcessingStatus             |
| members            | GET /groups/{id}/members?$select=id,userPrincipalName&$top=999, paged    |
| delete             | DELETE /groups/{id} (to the deleted items, restorable for 30 days)       |
| found by name      | GET /groups?$filter=displayName eq '...' (an answer lost), or startswith |

When Entra has finished: the reading taken is Graph beta's `membershipRuleProcessingStatus`,
whose `status` is `NotStarted` ("Group has been created or updated, and awaiting processing"),
`Running`, `Succeeded` ("Processing has completed") or `Failed` (with `errorMessage`). v1.0 has
no such property, and polling the members until they stop changing can't tell a rule that
selects nobody from one not yet evaluated, so the beta read is the one taken. Each request
goes through GraphClient: throttling (429 and Retry-After) and gateway errors are retried there.

Graph's directory is replicated, so for `replication_timeout` seconds after a group is made a
request naming it may answer 404, or its status null: both read as NotStarted for that long,
then as an error. A POST whose outcome is unknown (a lost answer, a 5xx) is never sent again:
the group is looked up by its unique name for that long, and a DELETE answering 404 for a group
Graph never showed is confirmed by a lookup before it counts as deleted.

The group is not purged from the deleted items (`DELETE /directory/deletedItems/{id}`): Graph
documents that for groups with the delegated Group.ReadWrite.All only ("Not supported" for
application permissions), and a deleted group holds no licenses, has no members Entra keeps
evaluating, and is purged by Entra itself after 30 days.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from reconciler.providers.base import ProviderError
from reconciler.providers.graph_http import GraphClient, GraphError, error_for
from reconciler.verify_probes import Member, ProbeStatus

__all__ = ["GraphRuleProbes", "beta_url"]

PAGE_SIZE = 999
REPLICATION_TIMEOUT = 60.0  # seconds a group made a moment ago may still be unknown
UNKNOWN_FUTURE = "UnknownFutureValue"  # Graph's evolvable enums: a value newer than the client
_NOT_STARTED = ProbeStatus("NotStarted")


def beta_url(url: str) -> str:
    """Graph's beta endpoint beside `url` (…/v1.0 → …/beta)."""
    base = url.rstrip("/")
    root, _, version = base.rpartition("/")
    return f"{root}/beta" if version.lower() == "v1.0" else f"{base}/beta"


class GraphRuleProbes:
    """Creates, watches, reads and deletes the temporary groups of rule verification."""

    def __init__(
        self,
        client: GraphClient,
        beta: GraphClient,
        *,
        replication_timeout: float = REPLICATION_TIMEOUT,
        page_size: int = PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.beta = beta
        self.replication_timeout = replication_timeout
        self.page_size = page_size
        self._sleep, self._clock = sleep, clock
        self._seen: set[str] = set()  # groups Graph has answered about since they were made
        self._since: dict[str, float] = {}  # when each group was made, or first asked about

    def create_probe(self, group: Mapping[str, Any]) -> str:
        """The id of a new group made as `group` says; a lost answer is never sent again: the
        group is looked up by its unique name for the replication window."""
        name = str(group["displayName"])
        try:
            response = self.client.send("POST", "/groups", json=dict(group), idempotent=False)
        except GraphError as exc:  # timed out or dropped: Graph may have made it
            lost: GraphError = exc
        else:
            if response.ok:
                return self._made(str(response.body["id"]))
            lost = error_for("POST", "/groups", response, group)
            if response.status < 500:
                raise lost  # refused: nothing was made
        found = self._look_up(name)
        if len(found) == 1:
            return self._made(found[0])
        if found:
            raise GraphError(
                f"{lost}; {len(found)} groups named {name} were found after it: each is deleted"
            )
        raise GraphError(
            f"{lost}; no group named {name} appeared within {self.replication_timeout:g} s, so "
            "none was made (if one appears later, `reconciler verify --cleanup` deletes it)",
            status=lost.status,
        )

    def probe_status(self, group_id: str) -> ProbeStatus:
        """Where Entra's evaluation of the group's rule stands; NotStarted while Graph, within
        the replication window, doesn't know the group yet or gives no status."""
        url = f"/groups/{group_id}?$select=id,membershipRuleProcessingStatus"
        response = self.beta.send("GET", url)
        key = group_id.lower()
        if response.status == 404 and key not in self._seen:
            if self._young(key):
                return _NOT_STARTED
            raise ProviderError(
                f"Graph still doesn't know the temporary group {group_id} "
                f"{self.replication_timeout:g} s after it was made (404 from GET /beta/groups/"
                f"{group_id}): reconciler can't watch Entra evaluate its rule"
            )
        if not response.ok:
            error = error_for("GET", url, response)  # the permission is v1.0's for the path
            message = error.message.replace("GET /groups/", "GET /beta/groups/", 1)
            raise GraphError(message, status=error.status, code=error.code)
        self._seen.add(key)
        found = (response.body or {}).get("membershipRuleProcessingStatus")
        if not isinstance(found, dict) or not found.get("status"):
            if self._young(key):
                return _NOT_STARTED  # a replica that doesn't have the status yet
            raise ProviderError(
                "Graph's beta endpoint gave no membershipRuleProcessingStatus for the temporary "
                f"group {group_id}: reconciler can't tell when Entra has evaluated its rule"
            )
        status = str(found["status"])
        if status == UNKNOWN_FUTURE:
            raise ProviderError(
                f"Graph reports the evaluation of the temporary group {group_id} as "
                f"{UNKNOWN_FUTURE}: a status newer than this reconciler knows, so it can't tell "
                "whether Entra has finished. Upgrade reconciler, or check the group in the "
                "Entra admin center"
            )
        message = found.get("errorMessage")
        return ProbeStatus(status, str(message) if message else None)

    def probe_members(self, group_id: str) -> list[Member]:
        """The group's direct members as Entra evaluated them (users carry their UPN)."""
        url = f"/groups/{group_id}/members?$select=id,userPrincipalName&$top={self.page_size}"
        members = []
        for item in self.client.pages(url):
            upn = item.get("userPrincipalName")
            members.append(Member(str(item["id"]), str(upn) if upn else None))
        self._seen.add(group_id.lower())
        return members

    def delete_probe(self, group_id: str) -> None:
        """Deletes the group (to the deleted items); a 404 counts as deleted once Graph has
        shown the group, or a lookup doesn't list it."""
        url = f"/groups/{group_id}"
        key = group_id.lower()
        pause = 0.1
        while True:
            response = self.client.send("DELETE", url)
            if response.ok or (response.status == 404 and key in self._seen):
                self._seen.add(key)
                return
            if response.status != 404:
                raise error_for("DELETE", url, response)
            # never shown: gone, or not replicated to the replica that answered
            if not self._listed(group_id):
                return
            if not self._young(key):
                raise GraphError(
                    f"DELETE /groups/{group_id} answers 404 though Graph still lists the group "
                    f"{self.replication_timeout:g} s after it was made",
                    status=404,
                )
            self._sleep(pause)
            pause = min(pause * 2, 5.0)

    def find_probes(self, displayName: str) -> list[str]:
        """The ids of every group named `displayName`."""
        quoted = displayName.replace("'", "''")
        condition = quote(f"displayName eq '{quoted}'", safe="")
        return [str(g["id"]) for g in self.client.pages(f"/groups?$filter={condition}&$select=id")]

    def leftover_probes(self, prefix: str) -> list[dict[str, Any]]:
        """Every group whose displayName starts with `prefix`: id, displayName, description."""
        quoted = prefix.replace("'", "''")
        condition = quote(f"startswith(displayName,'{quoted}')", safe="")
        url = f"/groups?$filter={condition}&$select=id,displayName,description&$top={PAGE_SIZE}"
        return list(self.client.pages(url))

    def tenant_id(self) -> str:
        """The organization's id, for the audit log of `verify --cleanup`."""
        found = list(self.client.pages("/organization?$select=id"))
        return str(found[0]["id"]) if found else ""

    def _made(self, group_id: str) -> str:
        self._since[group_id.lower()] = self._clock()
        return group_id

    def _young(self, key: str) -> bool:
        """Whether the group was made (or first asked about) within the replication window."""
        since = self._since.setdefault(key, self._clock())
        return self._clock() - since < self.replication_timeout

    def _listed(self, group_id: str) -> bool:
        condition = quote(f"id eq '{group_id}'", safe="")
        return bool(list(self.client.pages(f"/groups?$filter={condition}&$select=id")))

    def _look_up(self, name: str) -> list[str]:
        """Every group named `name`, asked again until one shows or the window has passed."""
        deadline = self._clock() + self.replication_timeout
        pause = 0.1
        while True:
            found = self.find_probes(name)
            if found or self._clock() + pause > deadline:
                return found
            self._sleep(pause)
            pause = min(pause * 2, 5.0)
