"""Writes: groups, members, group licenses and user reprocessing, as plan Changes.

Each handler checks what Graph checks, turns the request into the plan's `Change` objects and
hands them to the store, which applies them through `LocalTenant.apply` and so through the
engine. Where Graph's docs give no error text, the answer is marked as the emulator's choice.

Entra queues a group's license processing (`licenseProcessingState`) after `assignLicense`, after
a member change of a group that assigns licenses, and after a change to the membership rule (or
its processing state or the group's type) of one; the tenant itself is settled at once.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from reconciler.emulator import resources
from reconciler.emulator.errors import GraphError, bad_request, not_found
from reconciler.emulator.messages import Request, Response
from reconciler.model import (
    DYNAMIC_MEMBERSHIP,
    UNIFIED,
    AssignedLicense,
    Group,
    valid_mail_nickname,
)
from reconciler.plan.changes import (
    NEW_ID_PREFIX,
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

if TYPE_CHECKING:
    from reconciler.emulator.app import App

MAX_BINDS = 20
# PATCH-able properties, in the order they are applied: the rule before the type that uses it
UPDATABLE = (
    "displayName",
    "description",
    "mailNickname",
    "securityEnabled",
    "membershipRule",
    "membershipRuleProcessingState",
    "groupTypes",
)
READ_ONLY = ("id", "assignedLicenses", "licenseProcessingState", "hasMembersWithLicenseErrors")
ALREADY_MEMBER = (
    "One or more added object references already exist for the following modified "
    "properties: 'members'."
)
# emulator's choice: Graph's docs say only that this is refused
DYNAMIC_REFUSED = (
    "Members of a group with dynamic membership can't be added or removed manually; "
    "change its membershipRule."
)


def create_group(app: App, request: Request) -> Response:
    body = _body(request)
    for name in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
        if body.get(name) is None:
            raise bad_request(f"Invalid value specified for property '{name}' of resource 'Group'.")
    _check_nickname(body["mailNickname"])
    group_types = tuple(body.get("groupTypes") or ())
    dynamic = DYNAMIC_MEMBERSHIP in group_types
    rule = body.get("membershipRule")
    if dynamic and not rule:
        raise bad_request("Dynamic membership groups need a membershipRule.")
    if rule and not dynamic:
        raise bad_request("A membershipRule can only be set on a group with dynamic membership.")
    state = _processing_state(body.get("membershipRuleProcessingState", "On" if dynamic else None))
    group = Group(
        id=NEW_ID_PREFIX + str(uuid.uuid4()),
        displayName=body["displayName"],
        description=body.get("description"),
        groupTypes=group_types,
        securityEnabled=bool(body["securityEnabled"]),
        mailEnabled=bool(body["mailEnabled"]),
        mailNickname=body["mailNickname"],
        membershipRule=rule,
        membershipRuleProcessingState=state if dynamic else None,
    )
    changes: list[Change] = [CreateGroup(group)]
    binds = _binds(body)
    if binds:
        if dynamic:
            raise bad_request(DYNAMIC_REFUSED)
        _check_members(app, group_types, (), binds)
        changes.append(AddMembers(group.id, group.displayName, binds))
    applied = app.store.apply(changes)
    state = app.store.state()
    created = state.group(applied[0].groupId)
    app.replication.created(created["id"])
    app.rules.created(created, state)
    body = {
        "@odata.context": f"{request.base}/$metadata#groups/$entity",
        **resources.group(created, app.store),
    }
    return Response(201, body, {"Location": f"{request.base}/groups/{created['id']}"})


def update_group(app: App, request: Request, group_id: str) -> Response:
    body = _body(request)
    group = app.store.state().group(group_id)
    for name in body:
        if name in READ_ONLY:
            raise bad_request(f"Property '{name}' is read-only and cannot be set.")
        if name not in UPDATABLE and name != "members@odata.bind":
            raise bad_request(f"Property '{name}' can't be updated by the emulator.")
    after = {**group, **{k: v for k, v in body.items() if k in UPDATABLE}}
    dynamic = DYNAMIC_MEMBERSHIP in (after.get("groupTypes") or ())
    if "membershipRuleProcessingState" in body:
        _processing_state(body["membershipRuleProcessingState"])
    if "mailNickname" in body:
        _check_nickname(body["mailNickname"])
    if body.get("membershipRule") and not dynamic:
        raise bad_request("A membershipRule can only be set on a group with dynamic membership.")
    if dynamic and not after.get("membershipRule"):
        raise bad_request("Dynamic membership groups need a membershipRule.")
    changes: list[Change] = []
    for name in UPDATABLE:
        if name not in body:
            continue
        before, value = group.get(name), body[name]
        if name == "groupTypes":
            before, value = tuple(before or ()), tuple(value or ())
        if before != value:
            changes.append(UpdateGroup(group["id"], group["displayName"], name, before, value))
    binds = _binds(body)
    if binds:
        if dynamic:
            raise bad_request(DYNAMIC_REFUSED)
        _check_members(app, tuple(after.get("groupTypes") or ()), group.get("members", ()), binds)
        changes.append(AddMembers(group["id"], group["displayName"], binds))
    if changes:
        app.store.apply(changes)
        # the plan's own rule for which changes make Entra process a group's licenses
        if any(reprocesses(change) for change in changes):
            _process_if_licensed(app, group)
    return Response(204)


def delete_group(app: App, request: Request, group_id: str) -> Response:
    group = app.store.state().group(group_id)
    # engine.check_deletable refuses a licensed group: 400 Request_BadRequest (emulator's choice)
    app.store.apply([DeleteGroup(group["id"], group["displayName"])])
    app.rules.deleted(group["id"])
    return Response(204)


def add_member(app: App, request: Request, group_id: str) -> Response:
    body = _body(request)
    reference = body.get("@odata.id")
    if not isinstance(reference, str) or not reference:
        raise bad_request("Invalid value specified for property '@odata.id'.")
    group = app.store.state().group(group_id)
    if DYNAMIC_MEMBERSHIP in (group.get("groupTypes") or ()):
        raise bad_request(DYNAMIC_REFUSED)
    member = _reference_id(reference)
    _check_members(app, tuple(group.get("groupTypes") or ()), group.get("members", ()), (member,))
    app.store.apply([AddMembers(group["id"], group["displayName"], (member,))])
    _process_if_licensed(app, group)
    return Response(204)


def remove_member(app: App, request: Request, group_id: str, member_id: str) -> Response:
    group = app.store.state().group(group_id)
    if DYNAMIC_MEMBERSHIP in (group.get("groupTypes") or ()):
        raise bad_request(DYNAMIC_REFUSED)
    members = {m.lower(): m for m in group.get("members", ())}
    if member_id.lower() not in members:
        raise not_found(member_id)
    stored = members[member_id.lower()]
    app.store.apply([RemoveMembers(group["id"], group["displayName"], (stored,))])
    _process_if_licensed(app, group)
    return Response(204)


def assign_license(app: App, request: Request, group_id: str) -> Response:
    content_type = request.header("Content-Type") or ""
    if "json" not in content_type.lower():
        raise GraphError(415, "UnsupportedMediaType", "Content-Type must be application/json.")
    body = _body(request)
    adds, removes = body.get("addLicenses"), body.get("removeLicenses")
    if not isinstance(adds, list):
        raise bad_request("Invalid value specified for property 'addLicenses'.")
    if not isinstance(removes, list):
        raise bad_request("Invalid value specified for property 'removeLicenses'.")
    state = app.store.state()
    group = state.group(group_id)
    skus = {sku["skuId"].lower(): sku for sku in state.skus}
    held = {a["skuId"].lower(): a for a in group.get("assignedLicenses", ())}
    changes: list[Change] = []
    name = group["displayName"]
    for item in adds:
        sku_id = str((item or {}).get("skuId", "")).lower()
        sku = skus.get(sku_id)
        if sku is None:
            raise bad_request(f"License {sku_id} does not correspond to a valid company License.")
        plans = {p["servicePlanId"].lower(): p["servicePlanId"] for p in sku["servicePlans"]}
        disabled = frozenset(plans.get(str(p).lower(), "") for p in item.get("disabledPlans") or ())
        if "" in disabled:
            raise bad_request(f"A disabled plan is not a service plan of license {sku_id}.")
        if sku_id in [str(r).lower() for r in removes]:
            raise bad_request(f"License {sku_id} is both added and removed.")
        if sku_id not in held:
            changes.append(AddLicense(group["id"], name, AssignedLicense(sku["skuId"], disabled)))
        elif frozenset(held[sku_id].get("disabledPlans", ())) != disabled:
            before = frozenset(held[sku_id].get("disabledPlans", ()))
            changes.append(ChangeDisabledPlans(group["id"], name, sku["skuId"], before, disabled))
    for sku_id in removes:
        if str(sku_id).lower() not in skus:
            raise bad_request(f"License {sku_id} does not correspond to a valid company License.")
        if str(sku_id).lower() in held:  # removing what isn't assigned is a no-op (emulator)
            changes.append(RemoveLicense(group["id"], name, held[str(sku_id).lower()]["skuId"]))
    # one call is one processing: the products it adds are assigned all or nothing
    if changes:
        app.store.apply(changes, together=True)
    _process(app, group["id"])
    after = app.store.state().group(group["id"])
    names = ["id", "displayName", "groupTypes", "securityEnabled", "assignedLicenses"]
    location = f"{request.base}/directoryObjects/{group['id']}/Microsoft.DirectoryServices.Group"
    return Response(202, resources.group(after, app.store, names), {"Location": location})


def assign_user_license(app: App, request: Request, user_id: str) -> Response:
    """Direct license assignment to users is not emulated: the local tenant writes groups only."""
    app.store.state().user(user_id)
    raise GraphError(
        501, "NotImplemented", "The emulator doesn't assign licenses to users directly."
    )


def reprocess(app: App, request: Request, user_id: str) -> Response:
    user = app.store.state().user(user_id)
    app.store.reprocess(user["id"])
    after = app.store.state().user(user["id"])
    names = ["userPrincipalName", "displayName", "assignedLicenses", "licenseAssignmentStates"]
    context = f"{request.base}/$metadata#users/$entity"
    return Response(200, {"@odata.context": context, **resources.user(after, names)})


# --- helpers ------------------------------------------------------------------------------


def _process(app: App, group_id: str) -> None:
    """Entra queues the group's license processing; a `license-failed` fault makes it fail."""
    app.store.start_processing(group_id, failed=app.faults.processing_fails())


def _process_if_licensed(app: App, group: dict[str, Any]) -> None:
    """A membership change makes Entra process the group's licenses, if it assigns any."""
    if group.get("assignedLicenses"):
        _process(app, group["id"])


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise bad_request("Write requests need a JSON object body.", code="BadRequest")
    return request.body


def _processing_state(value: Any) -> Any:
    if value not in (None, "On", "Paused"):
        raise bad_request(
            "Invalid value specified for property 'membershipRuleProcessingState' of resource "
            "'Group'; use On or Paused."
        )
    return value


def _check_nickname(value: Any) -> None:
    if not valid_mail_nickname(value):
        raise bad_request(
            "Invalid value specified for property 'mailNickname' of resource 'Group'."
        )


def _reference_id(reference: str) -> str:
    return reference.rstrip("/").rsplit("/", 1)[-1].strip("'()")


def _binds(body: dict[str, Any]) -> tuple[str, ...]:
    binds = body.get("members@odata.bind")
    if binds is None:
        return ()
    if not isinstance(binds, list):
        raise bad_request("Invalid value specified for property 'members@odata.bind'.")
    if len(binds) > MAX_BINDS:
        raise bad_request(
            f"A single request may add at most {MAX_BINDS} members; this one adds {len(binds)}."
        )
    return tuple(_reference_id(str(b)) for b in binds)


def _check_members(
    app: App, group_types: tuple[str, ...], current: Any, members: tuple[str, ...]
) -> None:
    """404 for an unknown object, 400 for a member already there or a group in an M365 group;
    all before any is added, so a failing reference adds nobody."""
    state = app.store.state()
    present = {m.lower() for m in current}
    for member in members:
        typed = state.directory_object(member)
        if typed is None:
            raise not_found(member)
        if member.lower() in present:
            raise bad_request(ALREADY_MEMBER)
        if UNIFIED in group_types and typed[0] != "user":
            raise bad_request("A Microsoft 365 group can only have users as members.")
