"""Writes `tenant.json` beside this file: the Contoso demo tenant, the same bytes on every run.

    python examples/contoso/generate.py

About 200 people in several departments and countries, real SKU and service plan ids, dynamic
and static licensing groups, direct licenses, one product two seats from its limit. License
data follows Entra's rules: dynamic members are the users matching the rule, group licenses
reach direct user members only, and a user's license per product is the union of its
assignments.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.model import Tenant
from reconciler.providers.snapshot import tenant_from_document, write_snapshot
from reconciler.rules import compile_rule

SEED = 20240501
OUTPUT = Path(__file__).with_name("tenant.json")
# rules are evaluated at a fixed moment so system.now never makes the output drift
NOW = datetime(2025, 1, 15, tzinfo=UTC)

# Products and all their service plans, copied from Microsoft's "Product names and service plan
# identifiers for licensing" list (its CSV download); never read at run time.
SKUS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    # Microsoft 365 E5
    (
        "SPE_E5",
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        (
            ("MESH_AVATARS_FOR_TEAMS", "dcf9d2f4-772e-4434-b757-77a453cfbc02"),
            ("MESH_AVATARS_ADDITIONAL_FOR_TEAMS", "3efbd4ed-8958-4824-8389-1321f8730af8"),
            ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90"),
            ("Bing_Chat_Enterprise", "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba"),
            ("CDS_O365_P3", "afa73018-811e-46e9-988f-f75d2b1b8430"),
            ("LOCKBOX_ENTERPRISE", "9f431833-0334-42de-a7dc-70aa40db46db"),
            ("CustomerLockboxA_Enterprise", "3ec18638-bd4c-4d3b-8905-479ed636b83e"),
            ("MIP_S_Exchange", "cd31b152-6326-4d1b-ae1b-997b625182e6"),
            ("EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0"),
            ("GRAPH_CONNECTORS_SEARCH_INDEX", "a6520331-d7d4-4276-95f5-15c0933bc757"),
            ("MESH_IMMERSIVE_FOR_TEAMS", "f0ff6ac6-297d-49cd-be34-6dfef97f0c28"),
            ("INFORMATION_BARRIERS", "c4801e8a-cb58-4c35-aca6-f2dcc106f287"),
            ("Content_Explorer", "d9fa6af4-e046-4c89-9226-729a0786685d"),
            ("ContentExplorer_Standard", "2b815d45-56e4-4e3a-b65c-66cb9175b560"),
            ("MIP_S_CLP2", "efb0351d-3b08-4503-993d-383af8de41e3"),
            ("MIP_S_CLP1", "5136a095-5cf0-4aff-bec3-e84448b38ea5"),
            ("MYANALYTICS_P2", "33c4f319-9bdd-48d6-9c4d-410b750a4a5a"),
            ("M365_ADVANCED_AUDITING", "2f442157-a11c-46b9-ae5b-6e39ff4e5849"),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("MCOMEETADV", "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40"),
            ("M365_AUDIT_PLATFORM", "f6de4823-28fa-440b-b886-4783fa86ddba"),
            ("MICROSOFT_COMMUNICATION_COMPLIANCE", "a413a9ff-720c-4822-98ef-2f37c2a21f4c"),
            ("MTP", "bf28f719-7844-4079-9c78-c1307898e192"),
            ("M365_LIGHTHOUSE_CUSTOMER_PLAN1", "6f23d6a9-adbf-481c-8538-b4c095654487"),
            ("MCOEV", "4828c8ec-dc2e-4779-b502-87ac9ce28ab7"),
            ("MICROSOFTBOOKINGS", "199a5c09-e0ca-4e37-8f7c-b05d533e1ea2"),
            ("CLIPCHAMP", "a1ace008-72f3-4ea0-8dac-33b3a23a2472"),
            ("COMMUNICATIONS_DLP", "6dc145d6-95dd-4191-b9c3-185575ee6f6b"),
            ("CUSTOMER_KEY", "6db1f1db-2b46-403f-be40-e39395f08dbb"),
            ("DATA_INVESTIGATIONS", "46129a58-a698-46f0-aa5b-17f6586297d9"),
            ("ATP_ENTERPRISE", "f20fedf3-f3c3-43c3-8267-2bfdd51c0939"),
            ("THREAT_INTELLIGENCE", "8e0c0a52-6a6c-4d40-8370-dd62790dcd70"),
            ("EXCEL_PREMIUM", "531ee2f8-b1cb-453b-9c21-d2180d014ca5"),
            ("FORMS_PLAN_E5", "e212cbc7-0961-4c40-9825-01117710dcb1"),
            ("INFO_GOVERNANCE", "e26c2fcc-ab91-4a61-b35c-03cdc8dddf66"),
            ("INSIDER_RISK", "d587c7a3-bda9-4f99-8776-9bcf59c84f75"),
            ("KAIZALA_STANDALONE", "0898bdbb-73b0-471a-81e5-20f1fe4dd66e"),
            ("MICROSOFT_LOOP", "c4b8c31a-fb44-4c65-9837-a21f55fcabda"),
            ("ML_CLASSIFICATION", "d2d51368-76c9-4317-ada2-a12c004c432f"),
            ("EXCHANGE_ANALYTICS", "34c0d7a0-a70f-4668-9238-47f9fc208882"),
            ("PROJECTWORKMANAGEMENT", "b737dad2-2f6c-4c65-90e3-ca563267e8b9"),
            ("RECORDS_MANAGEMENT", "65cc641f-cccd-4643-97e0-a17e3045e541"),
            ("MICROSOFT_SEARCH", "94065c59-bc8e-4e8b-89e5-5138d471eaff"),
            ("Deskless", "8c7d2df8-86f0-4902-b2ed-a0458298f3b3"),
            ("STREAM_O365_E5", "6c6042f5-6f01-4d67-b8c1-eb99d36eed3e"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            ("INTUNE_O365", "882e1d05-acd1-4ccb-8708-6ee03664b117"),
            ("Nucleus", "db4d623d-b514-490b-b7ef-8885eee514de"),
            ("EQUIVIO_ANALYTICS", "4de31727-a228-4ec3-a5bf-8e45b5ca48cc"),
            ("ADALLOM_S_O365", "8c098270-9dd4-4350-9b30-ba4703f3b36b"),
            ("PAM_ENTERPRISE", "b1188c4c-1b36-4018-b48b-ee07604f6feb"),
            ("SAFEDOCS", "bf6f5520-59e3-4f82-974b-7dbbc4fd27c7"),
            ("SHAREPOINTWAC", "e95bec33-7c88-4a70-8e19-b10bd9d0c014"),
            ("POWERAPPS_O365_P3", "9c0dab89-a30c-4117-86e7-97bda240acd2"),
            ("BI_AZURE_P2", "70d33638-9c74-4d01-bfd3-562de28bd4ba"),
            ("PREMIUM_ENCRYPTION", "617b097b-4b93-4ede-83de-5f075bb5fb2f"),
            ("PROJECT_O365_P3", "b21a6b06-1988-436e-a07b-51ec6d9f52ad"),
            ("PURVIEW_DISCOVERY", "c948ea65-2053-4a5a-8a62-9eaaaf11b522"),
            ("COMMUNICATIONS_COMPLIANCE", "41fcdd7d-4733-4863-9cf4-c65b83ce2df4"),
            ("INSIDER_RISK_MANAGEMENT", "9d0c4ee5-e4a1-4625-ab39-d82b619b1a34"),
            ("SHAREPOINTENTERPRISE", "5dbe027f-2339-4123-9542-606e4d348a72"),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("BPOS_S_TODO_3", "3fb82609-8c27-4f7b-bd51-30634711ee67"),
            ("VIVAENGAGE_CORE", "a82fbf69-b4d7-49f4-83a6-915b2cf354f4"),
            ("VIVA_LEARNING_SEEDED", "b76fb638-6ba6-402a-b9f9-83d28acb3d86"),
            ("WHITEBOARD_PLAN3", "4a51bca5-1eff-43f5-878c-177680f191af"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            ("WINDEFATP", "871d91ec-ec1a-452b-a83f-bd76c7d770ef"),
            ("MICROSOFTENDPOINTDLP", "64bfac92-2b17-4482-b5e5-a0304429de3e"),
            ("UNIVERSAL_PRINT_01", "795f6fe0-cc4d-4773-b050-5dde4dc704c9"),
            ("WIN10_PRO_ENT_SUB", "21b439ba-a0ca-424f-a6cc-52f954a5b111"),
            ("Windows_Autopatch", "9a6eeb79-0b4b-4bf0-9808-39d99a2cd5a3"),
            ("WINDOWSUPDATEFORBUSINESS_DEPLOYMENTSERVICE", "7bf960f6-2cd9-443a-8046-5dbff9558365"),
            ("RMS_S_PREMIUM", "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3"),
            ("RMS_S_PREMIUM2", "5689bec4-755d-4753-8b61-40975025187c"),
            ("DYN365_CDS_O365_P3", "28b0fa46-c39a-4188-89e2-58e979a6b014"),
            ("Defender_for_Iot_Enterprise", "99cd49a9-0e54-4e07-aea1-d8d9f5f704f5"),
            ("MFA_PREMIUM", "8a256a2b-b617-496d-b51b-e76466e88db0"),
            ("ADALLOM_S_STANDALONE", "2e2ddb96-6af9-4b1d-a3f0-d6ecfd22edb2"),
            ("ATA", "14ab5db5-e6c4-4b20-b4bc-13e36fd2227f"),
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            ("AAD_PREMIUM_P2", "eec0eb4f-6444-4f95-aba0-50c24d67f998"),
            ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"),
            ("FLOW_O365_P3", "07699545-9485-468e-95b6-2fca3738be01"),
            ("POWER_VIRTUAL_AGENTS_O365_P3", "ded3d325-1bdc-453e-8432-5bac26d7a014"),
        ),
    ),
    # Microsoft 365 E3
    (
        "SPE_E3",
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        (
            ("MESH_AVATARS_FOR_TEAMS", "dcf9d2f4-772e-4434-b757-77a453cfbc02"),
            ("MESH_AVATARS_ADDITIONAL_FOR_TEAMS", "3efbd4ed-8958-4824-8389-1321f8730af8"),
            ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90"),
            ("CDS_O365_P2", "95b76021-6a53-4741-ab8b-1d1f3d66a95a"),
            ("EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0"),
            ("GRAPH_CONNECTORS_SEARCH_INDEX", "a6520331-d7d4-4276-95f5-15c0933bc757"),
            ("MESH_IMMERSIVE_FOR_TEAMS", "f0ff6ac6-297d-49cd-be34-6dfef97f0c28"),
            ("ContentExplorer_Standard", "2b815d45-56e4-4e3a-b65c-66cb9175b560"),
            ("MIP_S_CLP1", "5136a095-5cf0-4aff-bec3-e84448b38ea5"),
            ("MYANALYTICS_P2", "33c4f319-9bdd-48d6-9c4d-410b750a4a5a"),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("M365_LIGHTHOUSE_CUSTOMER_PLAN1", "6f23d6a9-adbf-481c-8538-b4c095654487"),
            ("M365_LIGHTHOUSE_PARTNER_PLAN1", "d55411c9-cfff-40a9-87c7-240f14df7da5"),
            ("MICROSOFTBOOKINGS", "199a5c09-e0ca-4e37-8f7c-b05d533e1ea2"),
            ("CLIPCHAMP", "a1ace008-72f3-4ea0-8dac-33b3a23a2472"),
            ("MDE_LITE", "292cc034-7b7c-4950-aaf5-943befd3f1d4"),
            ("FORMS_PLAN_E3", "2789c901-c14e-48ab-a76a-be334d9d793a"),
            ("KAIZALA_O365_P3", "aebd3021-9f8f-4bf8-bbe3-0ed2f4f047a1"),
            ("MICROSOFT_LOOP", "c4b8c31a-fb44-4c65-9837-a21f55fcabda"),
            ("PROJECTWORKMANAGEMENT", "b737dad2-2f6c-4c65-90e3-ca563267e8b9"),
            ("MICROSOFT_SEARCH", "94065c59-bc8e-4e8b-89e5-5138d471eaff"),
            ("Deskless", "8c7d2df8-86f0-4902-b2ed-a0458298f3b3"),
            ("STREAM_O365_E3", "9e700747-8b1d-45e5-ab8d-ef187ceec156"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            ("INTUNE_O365", "882e1d05-acd1-4ccb-8708-6ee03664b117"),
            ("Nucleus", "db4d623d-b514-490b-b7ef-8885eee514de"),
            ("SHAREPOINTWAC", "e95bec33-7c88-4a70-8e19-b10bd9d0c014"),
            ("PROJECT_O365_P2", "31b4e2fc-4cd6-4e7d-9c1b-41407303bd66"),
            ("Bing_Chat_Enterprise", "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba"),
            ("SHAREPOINTENTERPRISE", "5dbe027f-2339-4123-9542-606e4d348a72"),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("BPOS_S_TODO_2", "c87f142c-d1e9-4363-8630-aaea9c4d9ae5"),
            ("VIVAENGAGE_CORE", "a82fbf69-b4d7-49f4-83a6-915b2cf354f4"),
            ("VIVA_LEARNING_SEEDED", "b76fb638-6ba6-402a-b9f9-83d28acb3d86"),
            ("WHITEBOARD_PLAN2", "94a54592-cd8b-425e-87c6-97868b000b91"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            ("UNIVERSAL_PRINT_01", "795f6fe0-cc4d-4773-b050-5dde4dc704c9"),
            ("WIN10_PRO_ENT_SUB", "21b439ba-a0ca-424f-a6cc-52f954a5b111"),
            ("Windows_Autopatch", "9a6eeb79-0b4b-4bf0-9808-39d99a2cd5a3"),
            ("WINDOWSUPDATEFORBUSINESS_DEPLOYMENTSERVICE", "7bf960f6-2cd9-443a-8046-5dbff9558365"),
            ("RMS_S_PREMIUM", "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3"),
            ("DYN365_CDS_O365_P2", "4ff01e01-1ba7-4d71-8cf8-ce96c3bbcf14"),
            ("MFA_PREMIUM", "8a256a2b-b617-496d-b51b-e76466e88db0"),
            ("ADALLOM_S_DISCOVERY", "932ad362-64a8-4783-9106-97849a1a30b9"),
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"),
            ("POWERAPPS_O365_P2", "c68f8d98-5534-41c8-bf36-22fa496fa792"),
            ("FLOW_O365_P2", "76846ad7-7776-4c40-a281-a386362dd1b9"),
            ("POWER_VIRTUAL_AGENTS_O365_P2", "041fe683-03e4-45b6-b1af-c0cdc516daee"),
        ),
    ),
    # Office 365 E3
    (
        "ENTERPRISEPACK",
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        (
            ("MESH_AVATARS_FOR_TEAMS", "dcf9d2f4-772e-4434-b757-77a453cfbc02"),
            ("MESH_AVATARS_ADDITIONAL_FOR_TEAMS", "3efbd4ed-8958-4824-8389-1321f8730af8"),
            ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90"),
            ("Bing_Chat_Enterprise", "0d0c0d31-fae7-41f2-b909-eaf4d7f26dba"),
            ("CDS_O365_P2", "95b76021-6a53-4741-ab8b-1d1f3d66a95a"),
            ("EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0"),
            ("MESH_IMMERSIVE_FOR_TEAMS", "f0ff6ac6-297d-49cd-be34-6dfef97f0c28"),
            ("ContentExplorer_Standard", "2b815d45-56e4-4e3a-b65c-66cb9175b560"),
            ("MIP_S_CLP1", "5136a095-5cf0-4aff-bec3-e84448b38ea5"),
            ("MYANALYTICS_P2", "33c4f319-9bdd-48d6-9c4d-410b750a4a5a"),
            ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"),
            ("M365_LIGHTHOUSE_CUSTOMER_PLAN1", "6f23d6a9-adbf-481c-8538-b4c095654487"),
            ("MICROSOFTBOOKINGS", "199a5c09-e0ca-4e37-8f7c-b05d533e1ea2"),
            ("FORMS_PLAN_E3", "2789c901-c14e-48ab-a76a-be334d9d793a"),
            ("KAIZALA_O365_P3", "aebd3021-9f8f-4bf8-bbe3-0ed2f4f047a1"),
            ("PROJECTWORKMANAGEMENT", "b737dad2-2f6c-4c65-90e3-ca563267e8b9"),
            ("MICROSOFT_SEARCH", "94065c59-bc8e-4e8b-89e5-5138d471eaff"),
            ("Deskless", "8c7d2df8-86f0-4902-b2ed-a0458298f3b3"),
            ("STREAM_O365_E3", "9e700747-8b1d-45e5-ab8d-ef187ceec156"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
            ("INTUNE_O365", "882e1d05-acd1-4ccb-8708-6ee03664b117"),
            ("Nucleus", "db4d623d-b514-490b-b7ef-8885eee514de"),
            ("SHAREPOINTWAC", "e95bec33-7c88-4a70-8e19-b10bd9d0c014"),
            ("PROJECT_O365_P2", "31b4e2fc-4cd6-4e7d-9c1b-41407303bd66"),
            ("SHAREPOINTENTERPRISE", "5dbe027f-2339-4123-9542-606e4d348a72"),
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"),
            ("BPOS_S_TODO_2", "c87f142c-d1e9-4363-8630-aaea9c4d9ae5"),
            ("VIVAENGAGE_CORE", "a82fbf69-b4d7-49f4-83a6-915b2cf354f4"),
            ("VIVA_LEARNING_SEEDED", "b76fb638-6ba6-402a-b9f9-83d28acb3d86"),
            ("WHITEBOARD_PLAN2", "94a54592-cd8b-425e-87c6-97868b000b91"),
            ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653"),
            ("DYN365_CDS_O365_P2", "4ff01e01-1ba7-4d71-8cf8-ce96c3bbcf14"),
            ("POWERAPPS_O365_P2", "c68f8d98-5534-41c8-bf36-22fa496fa792"),
            ("FLOW_O365_P2", "76846ad7-7776-4c40-a281-a386362dd1b9"),
            ("POWER_VIRTUAL_AGENTS_O365_P2", "041fe683-03e4-45b6-b1af-c0cdc516daee"),
        ),
    ),
    # Enterprise Mobility + Security E3
    (
        "EMS",
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        (
            ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
            ("RMS_S_PREMIUM", "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3"),
            ("ADALLOM_S_DISCOVERY", "932ad362-64a8-4783-9106-97849a1a30b9"),
            ("EXCHANGE_S_FOUNDATION", "113feb6c-3fe4-4440-bddc-54d774bf0318"),
            ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90"),
            ("MFA_PREMIUM", "8a256a2b-b617-496d-b51b-e76466e88db0"),
            ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"),
        ),
    ),
    # Power BI Pro
    (
        "POWER_BI_PRO",
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
        (
            ("EXCHANGE_S_FOUNDATION", "113feb6c-3fe4-4440-bddc-54d774bf0318"),
            ("BI_AZURE_P2", "70d33638-9c74-4d01-bfd3-562de28bd4ba"),
        ),
    ),
    # Visio Plan 2
    (
        "VISIOCLIENT",
        "c5928f49-12ba-48f7-ada3-0d743a3601d5",
        (
            ("EXCHANGE_S_FOUNDATION", "113feb6c-3fe4-4440-bddc-54d774bf0318"),
            ("ONEDRIVE_BASIC", "da792a53-cbc0-4184-a10d-e544dd34b3c1"),
            ("VISIO_CLIENT_SUBSCRIPTION", "663a804f-1c30-4ff0-9915-9db84f0d1cea"),
            ("VISIOONLINE", "2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f"),
        ),
    ),
)


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    language: str
    cities: tuple[str, ...]
    given_names: tuple[str, ...]
    surnames: tuple[str, ...]


def _country(
    code: str, name: str, language: str, cities: str, given: str, surnames: str
) -> Country:
    """A Country from space-separated names (cities separated by commas)."""
    return Country(
        code,
        name,
        language,
        tuple(cities.split(", ")),
        tuple(given.split()),
        tuple(surnames.split()),
    )


COUNTRIES = {
    country.code: country
    for country in (
        _country(
            "US", "United States", "en-US", "Seattle, Redmond, New York, Chicago, Austin",
            "James Mary Robert Patricia Michael Jennifer David Linda Daniel Emily Megan Alex "
            "Lidia Adele Diego Grady Isaiah Johanna Lynne Nestor Miriam Joni Carlos Tanya",
            "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson "
            "Anderson Taylor Moore Jackson Vance Wilber Holloway Sherman Lanier Graham Robinson "
            "Nguyen Kim",
        ),
        _country(
            "GB", "United Kingdom", "en-GB", "London, Manchester, Edinburgh",
            "Oliver Amelia Harry Isla George Ava Jack Sophie Charlie Grace Thomas Lily William "
            "Freya Henry Evie",
            "Clarke Hughes Evans Walker Wright Thompson White Hall Green Wood Harris Lewis Patel "
            "Khan Cooper Ward",
        ),
        _country(
            "DE", "Germany", "de-DE", "Munich, Berlin, Hamburg",
            "Lukas Anna Jonas Lea Maximilian Lena Felix Sophie Paul Marie Jürgen Katrin Stefan "
            "Sabine",
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
            "Richter Krüger Weiß",
        ),
        _country(
            "FR", "France", "fr-FR", "Paris, Lyon",
            "Camille Louis Léa Hugo Chloé Lucas Manon Gabriel Inès Jules Élodie Théo",
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Lefèvre Girard",
        ),
        _country(
            "IN", "India", "en-IN", "Bengaluru, Hyderabad, Pune",
            "Aarav Priya Vihaan Ananya Arjun Diya Rohan Kavya Ishaan Sneha Rahul Pooja Vikram Neha",
            "Sharma Patel Reddy Iyer Nair Singh Kumar Rao Mehta Gupta Desai Joshi Menon Bose",
        ),
        _country(
            "NG", "Nigeria", "en-NG", "Lagos, Abuja",
            "Chinedu Ngozi Emeka Aisha Tunde Funmilayo Ibrahim Chiamaka Oluwaseun Zainab Babajide "
            "Adaeze",
            "Okafor Adeyemi Balogun Eze Okonkwo Ibrahim Nwosu Adebayo Olawale Obi Bello Chukwu",
        ),
        _country(
            "JP", "Japan", "ja-JP", "Tokyo, Osaka",
            "Haruto Yui Sota Hina Ren Aoi Yuto Sakura Kaito Mei Takumi Rin",
            "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida "
            "Yamada",
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Department:
    name: str
    size: int  # head and team leads included
    head: str
    lead: str
    titles: tuple[str, ...]
    countries: tuple[str, ...]  # drawn uniformly, so repeats weigh a country
    reports_to: str  # the executive the head reports to
    cost_center: str


CEO, CFO, COO, CTO = (
    "Chief Executive Officer",
    "Chief Financial Officer",
    "Chief Operating Officer",
    "Chief Technology Officer",
)

DEPARTMENTS = (
    Department(
        "Sales", 40, "VP of Sales", "Sales Manager",
        ("Account Executive", "Account Executive", "Sales Development Representative",
         "Solution Specialist", "Sales Operations Analyst"),
        ("US", "US", "US", "GB", "DE", "FR", "JP", "NG", "IN"), CEO, "CC-1100",
    ),
    Department(
        "Marketing", 18, "Director of Marketing", "Marketing Manager",
        ("Product Marketing Manager", "Content Strategist", "Marketing Coordinator",
         "Digital Marketing Specialist"),
        ("US", "US", "GB", "FR"), CEO, "CC-1200",
    ),
    Department(
        "Engineering", 46, "VP of Engineering", "Engineering Manager",
        ("Software Engineer", "Software Engineer", "Senior Software Engineer", "QA Engineer",
         "Site Reliability Engineer", "Data Engineer"),
        ("US", "US", "IN", "IN", "DE", "GB"), CTO, "CC-2100",
    ),
    Department(
        "Finance", 14, "Director of Finance", "Finance Manager",
        ("Financial Analyst", "Financial Analyst", "Accountant", "Payroll Specialist"),
        ("US", "US", "GB", "IN"), CFO, "CC-3100",
    ),
    Department(
        "HR", 10, "Director of Human Resources", "HR Manager",
        ("HR Generalist", "Recruiter", "HR Business Partner"),
        ("US", "GB", "IN", "NG"), COO, "CC-3200",
    ),
    Department(
        "Operations", 14, "Director of Operations", "Operations Manager",
        ("Operations Analyst", "IT Administrator", "Facilities Coordinator",
         "Procurement Specialist"),
        ("US", "US", "NG", "IN"), COO, "CC-4100",
    ),
    Department(
        "Legal", 7, "General Counsel", "Legal Manager",
        ("Corporate Counsel", "Paralegal", "Compliance Officer"),
        ("US", "GB"), CFO, "CC-3300",
    ),
    Department(
        "Retail", 40, "Director of Retail", "Store Manager",
        ("Store Associate", "Store Associate", "Store Associate", "Cashier",
         "Visual Merchandiser", "Stock Associate"),
        ("US", "US", "GB", "JP", "FR", "DE"), COO, "CC-5100",
    ),
)  # fmt: skip

GUESTS = (
    ("Ryan", "Gallagher", "fabrikam.com", "Fabrikam"),
    ("Mona", "Kane", "fabrikam.com", "Fabrikam"),
    ("Pieter", "de Vries", "northwindtraders.com", "Northwind Traders"),
    ("Sofia", "Costa", "northwindtraders.com", "Northwind Traders"),
    ("Kenji", "Mori", "adatum.com", "Adatum"),
    ("Grace", "Mensah", "woodgrovebank.com", "Woodgrove Bank"),
    ("Lucía", "Fernández", "litwareinc.com", "Litware"),
)

DOMAIN, INITIAL_DOMAIN = "contoso.com", "contoso.onmicrosoft.com"
TEAM_SIZE = 9  # a team lead for every nine people in a large department
NO_USAGE_LOCATION, DISABLED = 14, 9  # how many members lack a usage location, are disabled


# --- people --------------------------------------------------------------------------------


class Ids:
    """GUIDs from the seeded generator, so ids are the same on every run."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def ascii_name(name: str) -> str:
    """`Müller` -> `mueller`, `Lefèvre` -> `lefevre`: the UPN spelling of a name."""
    name = name.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    name = name.replace("ß", "ss").replace(" ", "")
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class People:
    """The users being built, with the names already taken."""

    rng: random.Random
    ids: Ids
    users: list[dict[str, Any]] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    employee_number: int = 1000

    def add(
        self, country: Country, department: str, title: str, manager: dict[str, Any] | None
    ) -> dict[str, Any]:
        given, surname = self._name(country)
        nickname = base = f"{ascii_name(given)}.{ascii_name(surname)}"
        suffix = 1
        while nickname in self.taken:
            suffix += 1
            nickname = f"{base}{suffix}"
        self.taken.add(nickname)
        self.employee_number += 1
        city = self.rng.choice(country.cities)
        contractor = self.rng.random() < 0.08
        hired = date(2008, 1, 1) + timedelta(days=self.rng.randrange(17 * 365))
        extensions = {f"extensionAttribute{n}": None for n in range(1, 16)}
        extensions["extensionAttribute1"] = (
            next(d.cost_center for d in DEPARTMENTS if d.name == department)
            if department != "Executive"
            else "CC-0100"
        )
        extensions["extensionAttribute2"] = "Contractor" if contractor else "FTE"
        user = {
            "id": self.ids.new(),
            "userPrincipalName": f"{nickname}@{DOMAIN}",
            "displayName": f"{given} {surname}",
            "givenName": given,
            "surname": surname,
            "mail": f"{nickname}@{DOMAIN}",
            "mailNickname": nickname,
            "jobTitle": title,
            "department": department,
            "companyName": "Contoso Ltd.",
            "employeeId": f"C{self.employee_number:05d}",
            "employeeType": "Contractor" if contractor else "Employee",
            "employeeHireDate": f"{hired.isoformat()}T00:00:00Z",
            "country": country.name,
            "city": city,
            "officeLocation": f"{city} Store" if department == "Retail" else f"{city} Office",
            "preferredLanguage": country.language,
            "usageLocation": country.code,
            "accountEnabled": True,
            "userType": "Member",
            "onPremisesSyncEnabled": True,
            "onPremisesExtensionAttributes": extensions,
            "proxyAddresses": [f"SMTP:{nickname}@{DOMAIN}", f"smtp:{nickname}@{INITIAL_DOMAIN}"],
            "manager": None if manager is None else {"id": manager["id"]},
        }
        self.users.append(user)
        return user

    def _name(self, country: Country) -> tuple[str, str]:
        return self.rng.choice(country.given_names), self.rng.choice(country.surnames)


def build_people(rng: random.Random, ids: Ids) -> list[dict[str, Any]]:
    """Executives, each department under its head and team leads, then a few guests."""
    people = People(rng, ids)
    us = COUNTRIES["US"]
    ceo = people.add(us, "Executive", CEO, None)
    executives = {CEO: ceo} | {
        title: people.add(us, "Executive", title, ceo) for title in (CFO, COO, CTO)
    }
    for department in DEPARTMENTS:
        country = COUNTRIES[rng.choice(department.countries)]
        head = people.add(
            country, department.name, department.head, executives[department.reports_to]
        )
        staff = department.size - 1
        leads = [
            people.add(
                COUNTRIES[rng.choice(department.countries)], department.name, department.lead, head
            )
            for _ in range(staff // (TEAM_SIZE + 1) if staff > 12 else 0)
        ]
        for position in range(staff - len(leads)):
            manager = leads[position % len(leads)] if leads else head
            title = rng.choice(department.titles)
            people.add(COUNTRIES[rng.choice(department.countries)], department.name, title, manager)
    members = list(people.users)
    # staff only: heads, leads and executives keep their location and their account
    staff = [user for user in members if user["manager"] and not _leads_people(user, members)]
    for user in rng.sample(staff, NO_USAGE_LOCATION):
        user["usageLocation"] = None
    for user in rng.sample([u for u in staff if u["usageLocation"]], DISABLED):
        user["accountEnabled"] = False
        user["onPremisesExtensionAttributes"]["extensionAttribute3"] = "Leaver"
    guests = [_guest(ids, *guest) for guest in GUESTS]
    return sorted(members + guests, key=lambda user: user["userPrincipalName"])


def _leads_people(user: dict[str, Any], users: list[dict[str, Any]]) -> bool:
    return any(other["manager"] == {"id": user["id"]} for other in users)


def _guest(ids: Ids, given: str, surname: str, domain: str, company: str) -> dict[str, Any]:
    address = f"{ascii_name(given)}.{ascii_name(surname)}@{domain}"
    return {
        "id": ids.new(),
        "userPrincipalName": f"{address.replace('@', '_')}#EXT#@{INITIAL_DOMAIN}",
        "displayName": f"{given} {surname} ({company})",
        "givenName": given,
        "surname": surname,
        "mail": address,
        "companyName": company,
        "usageLocation": None,
        "accountEnabled": True,
        "userType": "Guest",
        "externalUserState": "Accepted",
        "onPremisesSyncEnabled": None,
        "proxyAddresses": [f"SMTP:{address}"],
        "manager": None,
    }


# --- groups and licenses ---------------------------------------------------------------------


@dataclass(frozen=True)
class License:
    sku: str  # skuPartNumber
    disabled: tuple[str, ...] = ()  # servicePlanNames
    enabled_only: tuple[str, ...] = ()  # an allow-list: every other plan disabled


@dataclass(frozen=True)
class GroupSpec:
    name: str
    description: str
    rule: str | None = None
    licenses: tuple[License, ...] = ()
    m365: bool = False


ENABLED_MEMBER = 'user.accountEnabled -eq true -and user.userType -eq "Member"'
LEADERSHIP = (
    'user.accountEnabled -eq true -and (user.jobTitle -startsWith "Chief" -or '
    'user.jobTitle -startsWith "VP" -or user.jobTitle -startsWith "Director" -or '
    'user.jobTitle -eq "General Counsel")'
)
CORPORATE = '["Marketing", "Finance", "HR", "Operations", "Legal"]'

GROUPS = (
    GroupSpec(
        "LIC-M365-E5-Sales",
        "Sales staff get Microsoft 365 E5 without Viva Engage",
        'user.department -eq "Sales" -and user.accountEnabled -eq true',
        (License("SPE_E5", disabled=("YAMMER_ENTERPRISE",)),),
    ),
    GroupSpec(
        "LIC-M365-E5-Leadership",
        "Executives, VPs and directors get all of Microsoft 365 E5",
        LEADERSHIP,
        (License("SPE_E5"),),
    ),
    GroupSpec(
        "LIC-M365-E3-Engineering",
        "Engineers get Microsoft 365 E3 without Sway and Kaizala",
        'user.department -eq "Engineering" -and user.accountEnabled -eq true',
        (License("SPE_E3", disabled=("SWAY", "KAIZALA_O365_P3")),),
    ),
    GroupSpec(
        "LIC-M365-E3-Corporate",
        "Corporate functions get Microsoft 365 E3",
        f"user.department -in {CORPORATE} -and user.accountEnabled -eq true",
        (License("SPE_E3"),),
    ),
    GroupSpec(
        "LIC-O365-E3-Retail",
        "Store staff get Office 365 E3 without Sway and Viva Engage",
        'user.department -eq "Retail" -and user.accountEnabled -eq true',
        (License("ENTERPRISEPACK", disabled=("SWAY", "YAMMER_ENTERPRISE")),),
    ),
    GroupSpec(
        "LIC-EMS-E3-AllStaff",
        "Every enabled member gets Intune and Entra ID P1 from EMS E3",
        ENABLED_MEMBER,
        (License("EMS", enabled_only=("INTUNE_A", "AAD_PREMIUM")),),
    ),
    GroupSpec(
        "LIC-PowerBI-Pro",
        "Report authors get Power BI Pro (assigned membership)",
        licenses=(License("POWER_BI_PRO"),),
    ),
    GroupSpec("Finance Analysts", "Financial analysts (nested in LIC-PowerBI-Pro)"),
    GroupSpec(
        "Contoso Engineering",
        "Engineering team site, chat and calendar",
        'user.department -eq "Engineering"',
        m365=True,
    ),
)


def disabled_plan_ids(license: License) -> list[str]:
    """The ids of the plans a license turns off, from its deny-list or allow-list."""
    plans = dict(next(plans for part, _, plans in SKUS if part == license.sku))
    if license.enabled_only:
        return [plan_id for name, plan_id in plans.items() if name not in license.enabled_only]
    return [plans[name] for name in license.disabled]


def sku_id(part_number: str) -> str:
    return next(sku for part, sku, _ in SKUS if part == part_number)


def build_groups(ids: Ids, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups, members included: dynamic ones hold exactly the users their rule selects."""
    groups = []
    for spec in GROUPS:
        members = []
        if spec.rule is not None:
            matches = compile_rule(spec.rule, NOW)
            members = [user["id"] for user in users if matches(user)]
        nickname = spec.name.replace(" ", "").lower() if spec.m365 else spec.name
        groups.append(
            {
                "id": ids.new(),
                "displayName": spec.name,
                "description": spec.description,
                "groupTypes": (["Unified"] if spec.m365 else [])
                + (["DynamicMembership"] if spec.rule else []),
                # Microsoft 365 groups are mail groups; only security groups carry licenses here
                "securityEnabled": not spec.m365,
                "mailEnabled": spec.m365,
                "mailNickname": nickname,
                "membershipRule": spec.rule,
                "membershipRuleProcessingState": "On" if spec.rule else None,
                "assignedLicenses": [
                    {"skuId": sku_id(item.sku), "disabledPlans": disabled_plan_ids(item)}
                    for item in spec.licenses
                ],
                "members": members,
            }
        )
    _add_static_members(groups, users)
    return groups


def _add_static_members(groups: list[dict[str, Any]], users: list[dict[str, Any]]) -> None:
    """Power BI authors directly; financial analysts through a nested group, which licenses
    only the one analyst who is also a direct member (Entra doesn't license nested members)."""
    by_name = {group["displayName"]: group for group in groups}
    analysts = [u["id"] for u in users if u.get("jobTitle") == "Financial Analyst"]
    authors = [
        u["id"]
        for u in users
        if u.get("jobTitle")
        in ("Finance Manager", "Director of Finance", "Digital Marketing Specialist",
            "Sales Operations Analyst")
    ]  # fmt: skip
    by_name["Finance Analysts"]["members"] = analysts
    direct = sorted(set(authors) | set(analysts[:1]), key=[u["id"] for u in users].index)
    by_name["LIC-PowerBI-Pro"]["members"] = [*direct, by_name["Finance Analysts"]["id"]]


def direct_licenses(users: list[dict[str, Any]]) -> dict[str, list[License]]:
    """Licenses assigned to users themselves, by user id. Entra needs a usage location for these."""
    licensable = [u for u in users if u["usageLocation"] and u["userType"] == "Member"]
    enabled = [u for u in licensable if u["accountEnabled"]]
    direct: dict[str, list[License]] = {}

    def give(user: dict[str, Any], license: License) -> None:
        direct.setdefault(user["id"], []).append(license)

    # E5 both directly and through LIC-M365-E5-Sales: the union enables Viva Engage again
    give(next(u for u in enabled if u["jobTitle"] == "Account Executive"), License("SPE_E5"))
    for user in [u for u in enabled if u["jobTitle"] == "Senior Software Engineer"][:4]:
        give(user, License("VISIOCLIENT"))
    for user in [u for u in enabled if u["jobTitle"] == "IT Administrator"]:
        # all of EMS directly, beside the group's Intune + Entra ID P1 only
        give(user, License("EMS"))
        give(user, License("VISIOCLIENT"))
    # a leaver still holding a direct license: the seat is wasted until someone notices
    give(next(u for u in licensable if not u["accountEnabled"]), License("SPE_E3"))
    return direct


def assign_licenses(
    users: list[dict[str, Any]], groups: list[dict[str, Any]], direct: dict[str, list[License]]
) -> None:
    """Sets each user's licenseAssignmentStates and assignedLicenses as Entra would show them."""
    order = [sku for _, sku, _ in SKUS]
    licensing = [g for g in groups if g["securityEnabled"] and g["assignedLicenses"]]
    for user in users:
        states = [
            {"skuId": sku_id(item.sku), "disabledPlans": disabled_plan_ids(item),
             "assignedByGroup": None, "state": "Active", "error": "None"}
            for item in direct.get(user["id"], ())
        ]  # fmt: skip
        for group in licensing:
            # group licenses reach direct user members only, never members of nested groups
            if user["id"] in group["members"]:
                states += [
                    {"skuId": item["skuId"], "disabledPlans": item["disabledPlans"],
                     "assignedByGroup": group["id"], "state": "Active", "error": "None"}
                    for item in group["assignedLicenses"]
                ]  # fmt: skip
        user["licenseAssignmentStates"] = states
        user["assignedLicenses"] = []
        for sku in sorted({state["skuId"] for state in states}, key=order.index):
            # one license per product: a plan is off only if every assignment turns it off
            disabled = set.intersection(
                *(set(state["disabledPlans"]) for state in states if state["skuId"] == sku)
            )
            user["assignedLicenses"].append({"skuId": sku, "disabledPlans": sorted(disabled)})


# --- the tenant ------------------------------------------------------------------------------

# seats bought beyond those in use; E5 is two seats from its limit
SPARE_SEATS = {"SPE_E5": 2, "SPE_E3": 14, "ENTERPRISEPACK": 9, "EMS": 20, "POWER_BI_PRO": 5,
               "VISIOCLIENT": 3}  # fmt: skip


def subscribed_skus(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The products, each with every service plan, seats bought and seats used."""
    skus = []
    for part, sku, plans in SKUS:
        holders = sum(
            any(item["skuId"] == sku for item in user["assignedLicenses"]) for user in users
        )
        skus.append(
            {
                "skuId": sku,
                "skuPartNumber": part,
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": holders,
                "prepaidUnits": {
                    "enabled": holders + SPARE_SEATS[part],
                    "suspended": 0,
                    "warning": 0,
                    "lockedOut": 0,
                },
                "servicePlans": [
                    {
                        "servicePlanId": plan_id,
                        "servicePlanName": name,
                        "provisioningStatus": "Success",
                        "appliesTo": "User",
                    }
                    for name, plan_id in plans
                ],
            }
        )
    return skus


def build_document() -> dict[str, Any]:
    """The whole snapshot document."""
    rng = random.Random(SEED)
    ids = Ids(rng)
    organization = {
        "id": ids.new(),
        "displayName": "Contoso",
        "countryLetterCode": "US",
        "verifiedDomains": [
            {"name": INITIAL_DOMAIN, "isInitial": True, "isDefault": False},
            {"name": DOMAIN, "isInitial": False, "isDefault": True},
        ],
    }
    users = build_people(rng, ids)
    groups = build_groups(ids, users)
    assign_licenses(users, groups, direct_licenses(users))
    return {
        "formatVersion": 1,
        "organization": organization,
        "subscribedSkus": subscribed_skus(users),
        "users": users,
        "groups": groups,
    }


def build_tenant() -> Tenant:
    """The demo tenant, checked against the snapshot schema."""
    return tenant_from_document(build_document(), "generated tenant")


def main() -> None:
    tenant = build_tenant()
    write_snapshot(tenant, OUTPUT)
    print(f"wrote {OUTPUT.name}: {len(tenant.users)} users, {len(tenant.groups)} groups")


if __name__ == "__main__":
    main()
