"""Subscribed SKUs for the policy tests, with Microsoft's real SKU and service plan ids."""

from reconciler.model import ServicePlan, Sku

SPE_E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
YAMMER_ENTERPRISE = "7547a3fe-08ee-4ccb-b430-5077c5041653"
EXCHANGE_S_ENTERPRISE = "efb87545-963c-4e0d-99df-69c6916d9eb0"
TEAMS1 = "57ff2da0-773e-42df-b2af-ffb7a2317929"
INTUNE_A = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"
AAD_PREMIUM = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
RMS_S_PREMIUM = "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3"

SKUS = (
    Sku(
        SPE_E5,
        "SPE_E5",
        (
            ServicePlan(YAMMER_ENTERPRISE, "YAMMER_ENTERPRISE"),
            ServicePlan(EXCHANGE_S_ENTERPRISE, "EXCHANGE_S_ENTERPRISE"),
            ServicePlan(TEAMS1, "TEAMS1"),
        ),
    ),
    Sku(
        EMS,
        "EMS",
        (
            ServicePlan(INTUNE_A, "INTUNE_A"),
            ServicePlan(AAD_PREMIUM, "AAD_PREMIUM"),
            ServicePlan(RMS_S_PREMIUM, "RMS_S_PREMIUM"),
        ),
    ),
)


def write(root, files: dict[str, str | bytes]) -> None:
    """Write `files` (relative name -> text or bytes) under `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
