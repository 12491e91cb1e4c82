"""Writes to a tenant through Microsoft Graph v1.0: one plan change at a time, and reprocessing.

| change             | requests                                                               |
|--------------------|------------------------------------------------------------------------|
| CreateGroup        | POST /groups                                                           |
| UpdateGroup        | PATCH /groups/{id} with its property (and `also`, in one request)      |
| AddMembers         | PATCH /groups/{id} `members@odata.bind` (20 a request), 20 to a batch  |
| RemoveMembers      | DELETE /groups/{id}/members/{member}/$ref, 20 to a batch               |
| Add/Change/Remove  | POST /groups/{id}/assignLicense                                        |
| DeleteGroup        | DELETE /groups/{id}                                                    |
| reprocess users    | POST /users/{id}/reprocessLicenseAssignment, 20 to a batch             |

Re-applying is harmless: "already a member", a member already gone, a group already deleted and
a license already as wanted all count as done. Entra refusing a change (400: deleting a licensed
group, adding members to a dynamic group, a license it won't assign) is a LicensingError;
anything else that fails is a ProviderError (see graph_http).

Entra processes a group's licenses in the background. After a change that makes it do so,
`apply` polls the group's `licenseProcessingState` until `ProcessingComplete`, for at most
`settle_timeout` seconds; past that it returns `settled=False`, as the Provider protocol allows.

Placeholder ids (`new:<name>`) of groups created in this session are replaced by the real ids
Graph gave them, as the local tenant does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from reconciler.engine.licensing import LicensingError
from reconciler.model import mail_nickname
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    reprocesses,
)
from reconciler.providers.base import AppliedChange, ProviderError, real_id
from reconciler.providers.graph_http import (
    BATCH_LIMIT,
    BatchItem,
    GraphClient,
    GraphError,
    GraphResponse,
    error_for,
)

__all__ = ["GROUP_PROPERTIES", "SETTLE_TIMEOUT", "GraphWriter"]

SETTLE_TIMEOUT = 600.0  # seconds apply waits for Entra to process a group's licenses
BIND_LIMIT = 20  # members in one `members@odata.bind`
# the group properties a change may set
GROUP_PROPERTIES = frozenset(
    {
        "displayName",
        "description",
        "groupTypes",
        "securityEnabled",
        "mailEnabled",
        "mailNickname",
        "membershipRule",
        "membershipRuleProcessingState",
    }
)
REPROCESS = "reprocessLicenseAssignment"
_PROCESSING_DONE = frozenset({"ProcessingComplete", "ProcessingFailed"})


class GraphWriter:
    """Changes one tenant through `client`; remembers the groups it created."""

    def __init__(
        self,
        client: GraphClient,
        *,
        settle_timeout: float = SETTLE_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.settle_timeout = settle_timeout
        self._sleep = sleep
        # placeholder id (new:<name>) -> the id Graph gave the group created in this session
        self._created: dict[str, str] = {}

    def apply(self, change: Change) -> AppliedChange:
        """Make one change, wait (within reason) for Entra to process the group's licenses."""
        if isinstance(change, CreateGroup):
            return AppliedChange(*self._create(change))
        change = replace(change, groupId=self.real_id(change.groupId))
        group = change.groupId
        if isinstance(change, UpdateGroup):
            values = change.values()
            unknown = [name for name in values if name not in GROUP_PROPERTIES]
            if unknown:
                raise ProviderError(f"groups have no property {unknown[0]!r} to change")
            body = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
            self._write(change, "PATCH", f"/groups/{group}", body)
        elif isinstance(change, AddMembers | RemoveMembers):
            members = tuple(self.real_id(member) for member in change.memberIds)
            change = replace(change, memberIds=members)
            self._members_change(change)
        elif isinstance(change, AddLicense | ChangeDisabledPlans | RemoveLicense):
            self._license(change)
        elif isinstance(change, DeleteGroup):
            response = self.client.send("DELETE", f"/groups/{group}")
            if not response.ok and response.status != 404:  # 404: deleted already
                raise _refusal(change, "DELETE", f"/groups/{group}", response)
        settled = self._settle(group) if reprocesses(change) else True
        return AppliedChange(change, group, settled)

    def _create(self, change: CreateGroup) -> tuple[Change, str]:
        placeholder = change.group.id
        if placeholder in self._created:
            real = self._created[placeholder]
            raise ProviderError(f"group {change.displayName} was created as {real}")
        group = change.group
        body: dict[str, Any] = {
            "displayName": group.displayName,
            "mailNickname": group.mailNickname or mail_nickname(group.displayName),
            "mailEnabled": group.mailEnabled,
            "securityEnabled": group.securityEnabled,
            "groupTypes": list(group.groupTypes),
        }
        for name in ("description", "membershipRule", "membershipRuleProcessingState"):
            if getattr(group, name) is not None:
                body[name] = getattr(group, name)
        try:
            response = self.client.send("POST", "/groups", json=body, idempotent=False)
        except GraphError:
            # the connection dropped: the group may have been made; don't make it twice
            response = self._find_group(group.displayName) or self.client.send(
                "POST", "/groups", json=body, idempotent=False
            )
        if not response.ok:
            raise _refusal(change, "POST", "/groups", response, body)
        real = response.body["id"]
        self._created[placeholder] = real
        return CreateGroup(replace(group, id=real)), real

    def _write(self, change: Change, method: str, url: str, body: Any) -> None:
        response = self.client.send(method, url, json=body)
        if not response.ok:
            raise _refusal(change, method, url, response, body)

    def _find_group(self, name: str) -> GraphResponse | None:
        quoted = name.replace("'", "''")
        # encoded, so a name with '&' or '#' stays one filter
        condition = quote(f"displayName eq '{quoted}'", safe="")
        found = self.client.call("GET", f"/groups?$filter={condition}&$select=id")
        value = (found.body or {}).get("value") or []
        return GraphResponse(201, {}, value[0]) if len(value) == 1 else None

    def _members_change(self, change: AddMembers | RemoveMembers) -> None:
        group = change.groupId
        ids = list(change.memberIds)
        requests: list[tuple[str, str, Any]]
        if isinstance(change, AddMembers):
            requests = [
                ("PATCH", f"/groups/{group}", {"members@odata.bind": [self._ref(m) for m in chunk]})
                for chunk in (ids[i : i + BIND_LIMIT] for i in range(0, len(ids), BIND_LIMIT))
            ]
        else:
            requests = [("DELETE", f"/groups/{group}/members/{m}/$ref", None) for m in ids]
        self._run(change, requests)

    def _ref(self, object_id: str) -> str:
        return f"{self.client.base_url}/directoryObjects/{object_id}"

    def _run(self, change: Change, requests: list[tuple[str, str, Any]]) -> None:
        """Sends `requests`, 20 to a batch; what's already done counts as done.

        Member requests don't depend on each other, so none waits for another (`dependsOn`):
        one already done costs nothing more than its own answer.
        """
        queue = list(requests)
        while queue:
            chunk, queue = queue[:BATCH_LIMIT], queue[BATCH_LIMIT:]
            items = [
                BatchItem(str(n), method, url, body, ())
                for n, (method, url, body) in enumerate(chunk)
            ]
            answers = self.client.batch(items)
            again: list[tuple[str, str, Any]] = []
            for n, (method, url, body) in enumerate(chunk):
                answer = answers[str(n)]
                binds = body.get("members@odata.bind", ()) if isinstance(body, dict) else ()
                # a bind of several refused as "already exists" added none of them: split it
                if answer.ok or (_already(method, answer) and len(binds) <= 1):
                    continue
                if answer.status == 424:  # a request it depended on failed; try it again
                    again.append((method, url, body))
                elif method == "PATCH" and answer.status == 400 and len(binds) > 1:
                    # one bind failed, so none was made: add them one by one, to see which
                    again += [
                        ("POST", f"{url}/members/$ref", {"@odata.id": ref})
                        for ref in body["members@odata.bind"]
                    ]
                else:
                    raise _refusal(change, method, url, answer, body)
            queue = again + queue

    def _license(self, change: AddLicense | ChangeDisabledPlans | RemoveLicense) -> None:
        group = change.groupId
        if isinstance(change, RemoveLicense):
            body: dict[str, Any] = {"addLicenses": [], "removeLicenses": [change.skuId]}
            wanted = None
        else:
            sku = change.license.skuId if isinstance(change, AddLicense) else change.skuId
            plans = change.license.disabledPlans if isinstance(change, AddLicense) else change.after
            wanted = {"skuId": sku, "disabledPlans": sorted(plans)}
            body = {"addLicenses": [wanted], "removeLicenses": []}
        url = f"/groups/{group}/assignLicense"
        response = self.client.send("POST", url, json=body, idempotent=True)
        if response.ok:
            return
        if response.status == 400 and self._license_is(group, change, wanted):
            return  # re-applied: the group already assigns it so (or no longer does)
        raise _refusal(change, "POST", url, response, body)

    def _license_is(self, group: str, change: Change, wanted: dict[str, Any] | None) -> bool:
        found = self.client.call("GET", f"/groups/{group}?$select=id,assignedLicenses").body
        assigned = {
            item["skuId"].lower(): sorted(p.lower() for p in item.get("disabledPlans", ()))
            for item in (found or {}).get("assignedLicenses", ())
        }
        if wanted is None:
            return change.skuId.lower() not in assigned  # type: ignore[union-attr]
        plans = sorted(p.lower() for p in wanted["disabledPlans"])
        return assigned.get(wanted["skuId"].lower()) == plans

    def _settle(self, group: str) -> bool:
        """Whether Entra finished processing the group's licenses within the timeout."""
        deadline = time.monotonic() + self.settle_timeout
        pause = 0.1
        while True:
            response = self.client.send("GET", f"/groups/{group}?$select=id,licenseProcessingState")
            if response.status == 404:
                return True  # gone: nothing left to process
            if not response.ok:
                raise error_for("GET", f"/groups/{group}", response)
            state = (response.body or {}).get("licenseProcessingState")
            # the docs show both an object {"state": ...} and a bare string
            state = state.get("state") if isinstance(state, dict) else state
            if state is None or state in _PROCESSING_DONE:
                return True
            if time.monotonic() + pause > deadline:
                return False
            self._sleep(pause)
            pause = min(pause * 2, 5.0)

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        """`reprocessLicenseAssignment` for each user, 20 to a batch; what failed, by user id."""
        failed: dict[str, str] = {}
        ids = list(dict.fromkeys(user_ids))
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = ids[start : start + BATCH_LIMIT]
            items = [
                BatchItem(str(n), "POST", f"/users/{quote(user, safe='')}/{REPROCESS}", None, ())
                for n, user in enumerate(chunk)
            ]
            answers = self.client.batch(items)
            for n, user in enumerate(chunk):
                answer = answers[str(n)]
                if answer.status == 404:
                    failed[user] = "no such user"
                elif not answer.ok:
                    failed[user] = answer.error_message or f"HTTP {answer.status}"
        return failed

    def real_id(self, object_id: str) -> str:
        return real_id(object_id, self._created)


# --- helpers --------------------------------------------------------------------------------


def _already(method: str, answer: GraphResponse) -> bool:
    """Whether a failed member request only says it had been done before."""
    if method == "DELETE":
        return answer.status == 404  # not a member (anymore)
    return answer.status == 400 and "already exist" in answer.error_message.lower()


def _refusal(
    change: Change, method: str, url: str, answer: GraphResponse, body: Any = None
) -> ProviderError | LicensingError:
    """LicensingError when Entra refuses the change itself (400), else the request's error."""
    error = error_for(method, url, answer, body)
    if answer.status == 400:
        said = answer.error_message or "the change was refused"
        return LicensingError(f"Entra refused the change to group {change.displayName}: {said}")
    return error
