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
a license already as wanted all count as done. So an answer lost after Graph made the change (a
dropped connection, a 504) is met by sending the request again, member batches included; only
`POST /groups` isn't repeated blindly: the group is looked for by name first. Entra refusing a
change (400: deleting a licensed group, adding members to a dynamic group, a license it won't
assign) is a LicensingError; anything else that fails is a ProviderError (see graph_http).

Graph's directory replicates: a group created a moment ago may be unknown for a while (404, or
400 "...objects being referenced don't exist." to a member bind). Requests naming a group
created in this session are retried on those answers with backoff, for `replication_timeout`
seconds; for any other group a 404 is what it says.

Entra processes a group's licenses in the background. After a change that makes it do so,
`apply` polls the group's `licenseProcessingState` until `ProcessingComplete` or
`ProcessingFailed` (returned as `processingFailed=True`), for at most `settle_timeout` seconds;
past that it returns `settled=False`, as the Provider protocol allows.

Placeholder ids (`new:<name>`) of groups created in this session are replaced by the real ids
Graph gave them, as the local tenant does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from reconciler.engine.licensing import LicensingError
from reconciler.model import mail_nickname
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    CreateGroup,
    DeleteGroup,
    LicenseChange,
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

__all__ = ["GROUP_PROPERTIES", "SETTLE_TIMEOUT", "GraphWriter", "ProcessingWait"]

SETTLE_TIMEOUT = 600.0  # seconds apply waits for Entra to process a group's licenses
REPLICATION_TIMEOUT = 60.0  # seconds a request waits for a group created this session to show
CREATE_TRIES = 3  # POST /groups sent at most this often when its answer is lost
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
COMPLETE, FAILED = "ProcessingComplete", "ProcessingFailed"
# answers after which Graph may have carried the request out all the same
_OUTCOME_UNKNOWN = frozenset({500, 502, 504})
# [doc] 400 to members@odata.bind on a group not yet replicated: "...don't exist."
_NOT_REPLICATED = re.compile(r"\b(?:do not|don't|does not|doesn't) exist", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ProcessingWait:
    """A group whose licenses Entra is still processing, and how long apply has waited."""

    groupId: str
    displayName: str
    licenseProcessingState: str
    seconds: float


class GraphWriter:
    """Changes one tenant through `client`; remembers the groups it created."""

    def __init__(
        self,
        client: GraphClient,
        *,
        settle_timeout: float = SETTLE_TIMEOUT,
        replication_timeout: float = REPLICATION_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.settle_timeout = settle_timeout
        self.replication_timeout = replication_timeout
        self._sleep = sleep
        # placeholder id (new:<name>) -> the id Graph gave the group created in this session
        self._created: dict[str, str] = {}
        # told of each poll that finds a group's license processing unfinished
        self.waiting: Callable[[ProcessingWait], None] | None = None

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
        elif isinstance(change, LicenseChange):
            self._license([change])
        elif isinstance(change, DeleteGroup):
            response = self._send(group, "DELETE", f"/groups/{group}")
            if not response.ok and response.status != 404:  # 404: deleted already
                raise _refusal(change, "DELETE", f"/groups/{group}", response)
        if not reprocesses(change):
            return AppliedChange(change, group)
        state = self._settle(group, change.displayName)
        return AppliedChange(change, group, state is not None, processingFailed=state == FAILED)

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
        response = self._post_group(body, group.displayName)
        if not response.ok:
            raise _refusal(change, "POST", "/groups", response, body)
        real = response.body["id"]
        self._created[placeholder] = real
        return CreateGroup(replace(group, id=real)), real

    def _post_group(self, body: dict[str, Any], name: str) -> GraphResponse:
        """The answer to POST /groups; when it was lost (a dropped connection, a gateway error),
        the group may have been made all the same: looked for by name before posting again."""
        tries = 0
        while True:
            tries += 1
            try:
                response = self.client.send("POST", "/groups", json=body, idempotent=False)
                if response.status not in _OUTCOME_UNKNOWN:
                    return response
                lost = error_for("POST", "/groups", response, body)
            except GraphError as exc:
                lost = exc
            found = self._find_group(name)
            if found is not None:
                return found
            if tries == CREATE_TRIES:
                raise lost

    def _write(self, change: Change, method: str, url: str, body: Any) -> None:
        response = self._send(change.groupId, method, url, body)
        if not response.ok:
            raise _refusal(change, method, url, response, body)

    def _send(
        self, group: str, method: str, url: str, body: Any = None, **kwargs: Any
    ) -> GraphResponse:
        """The answer to one request about `group`; while Graph doesn't know a group created
        this session yet, the request is sent again after a pause, for a while."""
        wait = _Wait(self.replication_timeout, self._sleep)
        while True:
            response = self.client.send(method, url, json=body, **kwargs)
            if not self._unreplicated(group, response) or not wait():
                return response

    def _unreplicated(self, group: str, answer: GraphResponse) -> bool:
        """Whether `answer` may only say that a group made this session hasn't replicated."""
        if group.lower() not in {real.lower() for real in self._created.values()}:
            return False
        missing = answer.status == 400 and _NOT_REPLICATED.search(answer.error_message)
        return answer.status == 404 or bool(missing)

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
        requests: list[Request]
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

    def _run(self, change: Change, requests: list[Request]) -> None:
        """Sends `requests`, 20 to a batch; what's already done counts as done.

        Member requests don't depend on each other, so none waits for another (`dependsOn`)
        and they may run in any order: one already done costs nothing more than its own answer,
        and a batch whose answer was lost is sent again whole. Those a group made this session
        refuses because it hasn't replicated yet are sent again after a pause, for a while.
        """
        wait = _Wait(self.replication_timeout, self._sleep)
        queue = list(requests)
        while queue:
            chunk, queue = queue[:BATCH_LIMIT], queue[BATCH_LIMIT:]
            items = [
                BatchItem(str(n), method, url, body, ())
                for n, (method, url, body) in enumerate(chunk)
            ]
            answers = self.client.batch(items, idempotent=True)
            again: list[Request] = []
            lagging: list[tuple[Request, GraphResponse]] = []
            for n, request in enumerate(chunk):
                answer = answers[str(n)]
                if not answer.ok and self._unreplicated(change.groupId, answer):
                    lagging.append((request, answer))
                else:
                    again += _follow_up(change, request, answer)
            if lagging and wait():
                again = [request for request, _ in lagging] + again
            else:
                for request, answer in lagging:  # waited long enough: the answer stands
                    again += _follow_up(change, request, answer)
            queue = again + queue

    def apply_together(self, changes: Sequence[Change]) -> list[AppliedChange]:
        """Several license changes of one group in one `assignLicense` call: one processing."""
        if len(changes) == 1:
            return [self.apply(changes[0])]
        # checked first: a group's creation names its group by a property `replace` can't set
        if not all(isinstance(c, LicenseChange) for c in changes):
            raise ProviderError("only license changes of one group are made together")
        licensed = [replace(c, groupId=self.real_id(c.groupId)) for c in changes]
        if len({c.groupId for c in licensed}) != 1:
            raise ProviderError("only license changes of one group are made together")
        changes = licensed
        self._license(licensed)
        group = changes[0].groupId
        state = self._settle(group, changes[0].displayName)
        done = state is not None
        return [AppliedChange(c, group, done, processingFailed=state == FAILED) for c in changes]

    def _license(self, changes: Sequence[LicenseChange]) -> None:
        group = changes[0].groupId
        wanted = [_license_wanted(change) for change in changes]
        body: dict[str, Any] = {
            "addLicenses": [item for item in wanted if item is not None],
            "removeLicenses": [c.skuId for c in changes if isinstance(c, RemoveLicense)],
        }
        url = f"/groups/{group}/assignLicense"
        response = self._send(group, "POST", url, body, idempotent=True)
        if response.ok:
            return
        if response.status == 400 and all(
            self._license_is(group, change, item)
            for change, item in zip(changes, wanted, strict=True)
        ):
            return  # re-applied: the group already assigns it so (or no longer does)
        raise _refusal(changes[0], "POST", url, response, body)

    def _license_is(self, group: str, change: Change, wanted: dict[str, Any] | None) -> bool:
        url = f"/groups/{group}?$select=id,assignedLicenses"
        response = self._send(group, "GET", url)
        if not response.ok:
            raise error_for("GET", url, response)
        found = response.body
        assigned = {
            item["skuId"].lower(): sorted(p.lower() for p in item.get("disabledPlans", ()))
            for item in (found or {}).get("assignedLicenses", ())
        }
        if wanted is None:
            return change.skuId.lower() not in assigned  # type: ignore[union-attr]
        plans = sorted(p.lower() for p in wanted["disabledPlans"])
        return assigned.get(wanted["skuId"].lower()) == plans

    def _settle(self, group: str, name: str) -> str | None:
        """How Entra's processing of the group's licenses ended (ProcessingComplete or
        ProcessingFailed); None if it hadn't within the timeout. Each poll that finds it
        unfinished is told to `waiting`."""
        wait = _Wait(self.settle_timeout, self._sleep)
        started = time.monotonic()
        url = f"/groups/{group}?$select=id,licenseProcessingState"
        while True:
            response = self.client.send("GET", url)
            if response.ok:
                state = (response.body or {}).get("licenseProcessingState")
                # the docs show both an object {"state": ...} and a bare string
                state = state.get("state") if isinstance(state, dict) else state
                if state is None or state in (COMPLETE, FAILED):
                    return state or COMPLETE
                if self.waiting is not None:
                    seconds = time.monotonic() - started
                    self.waiting(ProcessingWait(group, name, str(state), seconds))
            elif response.status == 404:
                # gone: nothing left to process; unless made this session and not yet replicated
                if not self._unreplicated(group, response):
                    return COMPLETE
            else:
                raise error_for("GET", url, response)
            if not wait():
                return None

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
            answers = self.client.batch(items, idempotent=True)  # reprocessing twice is harmless
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

Request = tuple[str, str, Any]  # method, url, body


class _Wait:
    """Pauses doubling from 0.1 s to 5 s, while they fit in `timeout` seconds."""

    def __init__(self, timeout: float, sleep: Callable[[float], None]) -> None:
        self._deadline = time.monotonic() + timeout
        self._left = timeout  # counted too, so a sleep that doesn't sleep still ends it
        self._pause = 0.1
        self._sleep = sleep

    def __call__(self) -> bool:
        """Pauses and says True; False, without pausing, once the time is up."""
        if time.monotonic() + self._pause > self._deadline or self._pause > self._left:
            return False
        self._sleep(self._pause)
        self._left -= self._pause
        self._pause = min(self._pause * 2, 5.0)
        return True


def _follow_up(change: Change, request: Request, answer: GraphResponse) -> list[Request]:
    """What to send next for a member request given its answer: nothing when it is done, the
    request again or its binds one by one; a refusal raises."""
    method, url, body = request
    binds = body.get("members@odata.bind", ()) if isinstance(body, dict) else ()
    # a bind of several refused as "already exists" added none of them: split it
    if answer.ok or (_already(method, answer) and len(binds) <= 1):
        return []
    if answer.status == 424:  # a request it depended on failed; try it again
        return [request]
    if method == "PATCH" and answer.status == 400 and len(binds) > 1:
        # one bind failed, so none was made: add them one by one, to see which
        return [("POST", f"{url}/members/$ref", {"@odata.id": ref}) for ref in binds]
    raise _refusal(change, method, url, answer, body)


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


def _license_wanted(change: LicenseChange) -> dict[str, Any] | None:
    """The `addLicenses` item a change sends; None for a removal."""
    if isinstance(change, RemoveLicense):
        return None
    sku = change.license.skuId if isinstance(change, AddLicense) else change.skuId
    plans = change.license.disabledPlans if isinstance(change, AddLicense) else change.after
    return {"skuId": sku, "disabledPlans": sorted(plans)}
