"""Deterministic synthetic Entra tenant: Graph-shaped users and licensing-group rules.

Everything is drawn from a seeded `random.Random`, so the same seed gives the same tenant
and the same rules on every machine and Python version.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

# The moment `system.now` is pinned to, so that hire-date rules select the same users always.
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DOMAIN = "contoso.com"

# Real service plans (name, servicePlanId, Graph `service`), from Microsoft's licensing table.
SERVICE_PLANS = [
    ("EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0", "exchange"),
    ("EXCHANGE_S_STANDARD", "9aaf7827-d63c-4b61-89c3-182f06f82e5c", "exchange"),
    ("EXCHANGE_S_FOUNDATION", "113feb6c-3fe4-4440-bddc-54d774bf0318", "exchange"),
    ("SHAREPOINTENTERPRISE", "5dbe027f-2339-4123-9542-606e4d348a72", "SharePoint"),
    ("SHAREPOINTSTANDARD", "c7699d2e-19aa-44de-8edf-1736da088ca1", "SharePoint"),
    ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929", "TeamspaceAPI"),
    ("OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38", "MicrosoftOffice"),
    ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MicrosoftCommunicationsOnline"),
    ("MCOEV", "4828c8ec-dc2e-4779-b502-87ac9ce28ab7", "MicrosoftCommunicationsOnline"),
    ("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "SCO"),
    ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AADPremiumService"),
    ("AAD_PREMIUM_P2", "eec0eb4f-6444-4f95-aba0-50c24d67f998", "AADPremiumService"),
    ("ATP_ENTERPRISE", "f20fedf3-f3c3-43c3-8267-2bfdd51c0939", "exchange"),
    ("RMS_S_ENTERPRISE", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMSOnline"),
    ("YAMMER_ENTERPRISE", "7547a3fe-08ee-4ccb-b430-5077c5041653", "YammerEnterprise"),
    ("FORMS_PLAN_E3", "2789c901-c14e-48ab-a76a-be334d9d793a", "OfficeForms"),
    ("FLOW_O365_P2", "76846ad7-7776-4c40-a281-a386362dd1b9", "ProcessSimple"),
    ("POWERAPPS_O365_P2", "c68f8d98-5534-41c8-bf36-22fa496fa792", "PowerAppsService"),
    ("SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97", "Sway"),
]

DEPARTMENTS = [
    "Sales", "Engineering", "Customer Support", "Operations", "Marketing", "Finance",
    "Human Resources", "IT", "Research & Development", "Manufacturing", "Logistics",
    "Legal", "Procurement", "Product Management", "Quality Assurance", "Facilities",
    "Business Development", "Customer Success", "Data & Analytics", "Security",
    "Field Service", "Retail", "Supply Chain", "Training", "Communications",
    "Corporate Strategy", "Internal Audit", "Risk & Compliance", "Treasury", "Tax",
    "Investor Relations", "Executive Office", "Design", "Professional Services",
    "Partner Sales", "Inside Sales", "Service Desk", "Warehouse", "Clinical", "Public Sector",
]  # fmt: skip

_ROLES = [
    "Software Engineer", "Account Executive", "Sales Manager", "Support Engineer",
    "Data Analyst", "Accountant", "HR Generalist", "Recruiter", "Marketing Manager",
    "Product Manager", "Project Manager", "Consultant", "Operations Manager",
    "Business Analyst", "Systems Administrator", "Network Engineer", "Security Analyst",
    "Technician", "Store Associate", "Warehouse Associate", "Buyer", "Paralegal",
    "Attorney", "Designer", "Researcher", "Scientist", "Nurse", "Trainer",
    "Customer Service Representative", "Field Engineer", "Quality Engineer",
    "Financial Analyst", "Controller", "Auditor", "Architect", "DevOps Engineer",
    "Data Scientist", "Content Writer", "Office Manager", "Executive Assistant",
]  # fmt: skip
_LEVELS = ["", "Senior ", "Junior ", "Lead ", "Principal "]
JOB_TITLES = [level + role for role in _ROLES for level in _LEVELS]  # 200 titles

COMPANIES = ["Contoso", "Contoso Ltd", "Fabrikam", "Northwind Traders", "Tailspin Toys"]
COMPANY_WEIGHTS = [60, 10, 15, 10, 5]

# ISO country code, share of the tenant, and (city, state) sites; 30 countries, 300 cities.
_COUNTRY_SITES: dict[str, list[str]] = {
    "US": ["Seattle/WA", "Redmond/WA", "New York/NY", "Chicago/IL", "Austin/TX", "Dallas/TX",
           "Atlanta/GA", "Boston/MA", "Denver/CO", "San Francisco/CA", "Los Angeles/CA",
           "Phoenix/AZ", "Charlotte/NC", "Miami/FL", "Minneapolis/MN", "Detroit/MI",
           "Portland/OR", "Nashville/TN", "Columbus/OH", "Salt Lake City/UT"],
    "GB": ["London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Edinburgh", "Bristol",
           "Reading", "Cardiff", "Belfast", "Liverpool", "Cambridge"],
    "DE": ["Berlin/BE", "Munich/BY", "Hamburg/HH", "Frankfurt/HE", "Cologne/NW", "Stuttgart/BW",
           "Düsseldorf/NW", "Leipzig/SN", "Dresden/SN", "Nuremberg/BY", "Hanover/NI"],
    "FR": ["Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Lille", "Bordeaux",
           "Strasbourg", "Rennes"],
    "IN": ["Bengaluru/KA", "Hyderabad/TG", "Mumbai/MH", "Pune/MH", "Chennai/TN", "New Delhi/DL",
           "Noida/UP", "Gurugram/HR", "Kolkata/WB", "Ahmedabad/GJ", "Kochi/KL", "Jaipur/RJ"],
    "CA": ["Toronto/ON", "Vancouver/BC", "Montreal/QC", "Calgary/AB", "Ottawa/ON", "Edmonton/AB",
           "Winnipeg/MB", "Quebec City/QC", "Halifax/NS", "Waterloo/ON"],
    "AU": ["Sydney/NSW", "Melbourne/VIC", "Brisbane/QLD", "Perth/WA", "Adelaide/SA",
           "Canberra/ACT", "Hobart/TAS", "Gold Coast/QLD", "Darwin/NT", "Newcastle/NSW"],
    "JP": ["Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo", "Fukuoka", "Kobe", "Kyoto",
           "Sendai", "Hiroshima"],
    "BR": ["São Paulo/SP", "Rio de Janeiro/RJ", "Brasília/DF", "Belo Horizonte/MG",
           "Curitiba/PR", "Porto Alegre/RS", "Recife/PE", "Salvador/BA", "Fortaleza/CE",
           "Campinas/SP"],
    "NL": ["Amsterdam", "Rotterdam", "The Hague", "Utrecht", "Eindhoven", "Groningen",
           "Tilburg", "Almere", "Breda", "Nijmegen"],
    "ES": ["Madrid", "Barcelona", "Valencia", "Seville", "Zaragoza", "Málaga", "Bilbao",
           "Alicante", "Murcia", "Palma"],
    "IT": ["Milan", "Rome", "Turin", "Naples", "Bologna", "Florence", "Genoa", "Venice",
           "Verona", "Bari"],
    "MX": ["Mexico City", "Guadalajara", "Monterrey", "Puebla", "Tijuana", "León", "Querétaro",
           "Mérida", "Cancún", "Chihuahua"],
    "SE": ["Stockholm", "Gothenburg", "Malmö", "Uppsala", "Västerås", "Örebro", "Linköping",
           "Helsingborg", "Lund", "Umeå"],
    "CH": ["Zurich", "Geneva", "Basel", "Bern", "Lausanne", "Lucerne", "St. Gallen", "Lugano"],
    "IE": ["Dublin", "Cork", "Galway", "Limerick", "Waterford", "Athlone", "Sligo", "Kilkenny"],
    "PL": ["Warsaw", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Łódź", "Katowice", "Lublin"],
    "SG": ["Singapore"],
    "CN": ["Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu", "Hangzhou", "Suzhou",
           "Wuhan", "Nanjing", "Xi'an"],
    "KR": ["Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju", "Suwon", "Ulsan"],
    "ZA": ["Johannesburg", "Cape Town", "Durban", "Pretoria", "Port Elizabeth", "Bloemfontein",
           "East London", "Stellenbosch"],
    "AE": ["Dubai", "Abu Dhabi", "Sharjah", "Al Ain", "Ajman", "Ras Al Khaimah", "Fujairah"],
    "IL": ["Tel Aviv", "Jerusalem", "Haifa", "Herzliya", "Beersheba", "Netanya", "Petah Tikva"],
    "BE": ["Brussels", "Antwerp", "Ghent", "Bruges", "Leuven", "Liège", "Namur", "Mechelen"],
    "DK": ["Copenhagen", "Aarhus", "Odense", "Aalborg", "Esbjerg", "Roskilde", "Kolding"],
    "NO": ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Drammen", "Kristiansand"],
    "FI": ["Helsinki", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Jyväskylä"],
    "AT": ["Vienna", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt", "Villach"],
    "PT": ["Lisbon", "Porto", "Braga", "Coimbra", "Faro", "Aveiro", "Funchal"],
    "NG": ["Lagos", "Abuja", "Ibadan", "Port Harcourt", "Kano", "Enugu", "Benin City"],
}  # fmt: skip
COUNTRIES = list(_COUNTRY_SITES)
# Graph's `country` is free text, usually the name; `usageLocation` is the ISO code.
COUNTRY_NAMES = {
    "US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France",
    "IN": "India", "CA": "Canada", "AU": "Australia", "JP": "Japan", "BR": "Brazil",
    "NL": "Netherlands", "ES": "Spain", "IT": "Italy", "MX": "Mexico", "SE": "Sweden",
    "CH": "Switzerland", "IE": "Ireland", "PL": "Poland", "SG": "Singapore", "CN": "China",
    "KR": "Korea", "ZA": "South Africa", "AE": "United Arab Emirates", "IL": "Israel",
    "BE": "Belgium", "DK": "Denmark", "NO": "Norway", "FI": "Finland", "AT": "Austria",
    "PT": "Portugal", "NG": "Nigeria",
}  # fmt: skip
# The tenant is US-heavy, then a long tail, as a multinational's usually is.
COUNTRY_WEIGHTS = [30, 12, 9, 6, 10, 5, 4, 3, 3] + [1.5] * (len(COUNTRIES) - 9)

GIVEN_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Priya", "Ashley", "Wei", "Kimberly", "Hiroshi", "Emily", "Ahmed",
    "Donna", "Lukas", "Michelle", "Mateo", "Carol", "Olga", "Amanda", "Arjun", "Melissa",
    "Sven", "Deborah", "Chloé", "Stephanie", "Kwame", "Rebecca", "Yuki", "Laura", "Ivan",
    "Sofia", "Adele", "Alex", "Megan", "Nestor", "Isaiah", "Lynne", "Miriam", "Grady",
]  # fmt: skip
SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen",
    "King", "Wright", "Scott", "Nguyen", "Hill", "Flores", "Green", "Patel", "Müller",
    "Schmidt", "Tanaka", "Kim", "Chen", "Wang", "Singh", "Kowalski", "Dubois", "Rossi",
    "O'Brien", "Andersson", "Vance", "Bowen", "Varkey", "Sherman", "Zakharova", "Okafor",
]  # fmt: skip
EMPLOYMENT_TYPES = ["FTE", "FTE", "FTE", "FTE", "Contractor", "Intern", "Vendor"]
LICENSE_TIERS = ["E3", "E5", "F3", "E1", None, None]

GROUP_COUNT = 200
MANAGER_COUNT = 2_000


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _weights(count: int, skew: float = 1.0) -> list[float]:
    """Zipf-like weights: the first values are common, the tail rare, as departments are."""
    return [1 / (rank + 1) ** skew for rank in range(count)]


class TenantShape:
    """What a tenant's users and rules share: its group ids and its skewed value weights."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed ^ 0x5EED)
        self.group_ids = [_guid(rng) for _ in range(GROUP_COUNT)]
        self.department_weights = _weights(len(DEPARTMENTS), skew=1.1)
        title_weights = _weights(len(JOB_TITLES), skew=0.8)
        rng.shuffle(title_weights)
        self.title_weights = title_weights
        # Cumulative weights, computed once: random.choices would redo them on every draw.
        self.cum_departments = list(accumulate(self.department_weights))
        self.cum_titles = list(accumulate(title_weights))
        self.cum_countries = list(accumulate(COUNTRY_WEIGHTS))
        self.cum_companies = list(accumulate(COMPANY_WEIGHTS))


def make_users(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """`count` Graph user objects (as `GET /users` returns them), the same for the same seed."""
    rng = random.Random(seed)
    shape = TenantShape(seed)
    ids = [_guid(rng) for _ in range(count)]
    managers = ids[: min(MANAGER_COUNT, count)]
    taken: set[str] = set()
    return [_user(rng, shape, position, ids, managers, taken) for position in range(count)]


def _user(
    rng: random.Random,
    shape: TenantShape,
    position: int,
    ids: list[str],
    managers: list[str],
    taken: set[str],
) -> dict[str, Any]:
    given, surname = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
    guest = rng.random() < 0.07
    nickname = _nickname(given, surname, taken)
    if guest:
        upn = f"{nickname}_partner.example#EXT#@contoso.onmicrosoft.com"
        mail = f"{nickname}@partner.example"
    else:
        upn = mail = f"{nickname}@{DOMAIN}"
    country = rng.choices(COUNTRIES, cum_weights=shape.cum_countries)[0]
    city, _, state = rng.choice(_COUNTRY_SITES[country]).partition("/")
    synced = not guest and rng.random() < 0.8
    hired = NOW - timedelta(days=int(rng.triangular(0, 9000, 400)), seconds=rng.randrange(86400))
    return {
        "id": ids[position],
        "userPrincipalName": upn,
        "displayName": f"{given} {surname}" + (" (Partner)" if guest else ""),
        "givenName": given,
        "surname": surname,
        "mail": mail,
        "mailNickname": nickname,
        "department": None if guest and rng.random() < 0.7 else _department(rng, shape),
        "jobTitle": rng.choices(JOB_TITLES, cum_weights=shape.cum_titles)[0],
        "companyName": rng.choices(COMPANIES, cum_weights=shape.cum_companies)[0],
        # About 3% of accounts never got a location, as happens with service accounts.
        "country": COUNTRY_NAMES[country] if rng.random() > 0.03 else None,
        "usageLocation": country if rng.random() > 0.04 else None,
        "city": city,
        "state": state or None,
        "officeLocation": f"{city} {rng.choice('ABCDE')}{rng.randint(1, 40)}",
        "employeeId": None if guest else f"E{100000 + position}",
        "employeeHireDate": None if guest else hired.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountEnabled": rng.random() < 0.95,
        "userType": "Guest" if guest else "Member",
        "onPremisesSyncEnabled": True if synced else None,
        "onPremisesExtensionAttributes": _extension_attributes(rng, guest),
        "proxyAddresses": _proxy_addresses(rng, nickname, guest),
        "otherMails": [f"{nickname}@outlook.example"] if rng.random() < 0.3 else [],
        "businessPhones": [f"+1 425 555 {rng.randint(0, 9999):04d}"] if rng.random() < 0.6 else [],
        "assignedPlans": [] if guest else _assigned_plans(rng),
        "manager": {"id": rng.choice(managers)} if managers and position else None,
        "memberOf": [{"id": group} for group in rng.sample(shape.group_ids, rng.randint(0, 3))],
    }


def _nickname(given: str, surname: str, taken: set[str]) -> str:
    """A unique mail alias: given.surname, then given.surname2, given.surname3..."""
    base = f"{given}.{surname}".lower().replace("'", "").replace(" ", "")
    nickname, suffix = base, 1
    while nickname in taken:
        suffix += 1
        nickname = f"{base}{suffix}"
    taken.add(nickname)
    return nickname


def _department(rng: random.Random, shape: TenantShape) -> str | None:
    if rng.random() < 0.02:
        return None
    return rng.choices(DEPARTMENTS, cum_weights=shape.cum_departments)[0]


def _extension_attributes(rng: random.Random, guest: bool) -> dict[str, str | None]:
    """Graph always returns all fifteen keys; most tenants fill only the first few."""
    attributes: dict[str, str | None] = {f"extensionAttribute{n}": None for n in range(1, 16)}
    if not guest:
        attributes["extensionAttribute1"] = f"CC{rng.randint(1000, 1400)}"
        attributes["extensionAttribute2"] = rng.choice(EMPLOYMENT_TYPES)
        attributes["extensionAttribute3"] = rng.choice(LICENSE_TIERS)
    return attributes


def _proxy_addresses(rng: random.Random, nickname: str, guest: bool) -> list[str]:
    if guest:
        return [f"SMTP:{nickname}@partner.example"]
    addresses = [f"SMTP:{nickname}@{DOMAIN}", f"smtp:{nickname}@contoso.mail.onmicrosoft.com"]
    if rng.random() < 0.5:
        addresses.append(f"SIP:{nickname}@{DOMAIN}")
    return addresses


def _assigned_plans(rng: random.Random) -> list[dict[str, str]]:
    plans = rng.sample(SERVICE_PLANS, rng.randint(0, 6))
    assigned = (NOW - timedelta(days=rng.randint(1, 1500))).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "assignedDateTime": assigned,
            "capabilityStatus": "Enabled" if rng.random() < 0.92 else "Suspended",
            "service": service,
            "servicePlanId": plan_id,
        }
        for _, plan_id, service in plans
    ]


# --- rules ------------------------------------------------------------------------------------


# A regular expression as admins write one for "primary, non-aliased mailboxes".
_MAIL_PATTERN = r"^[a-z]+\.[a-z]+\d*@contoso\.com$"


def _q(value: str) -> str:
    """A double-quoted rule string, escaping quotes with the backtick."""
    return '"' + value.replace("`", "``").replace('"', '`"') + '"'


def _qlist(values: Sequence[str]) -> str:
    return "[" + ", ".join(_q(value) for value in values) + "]"


_SCOPE_WEIGHTS = {
    "dept": 25,
    "depts": 10,
    "country": 12,
    "countries": 8,
    "usage": 12,
    "title": 8,
    "company": 8,
    "titles": 5,
}
_SCOPE_PROPERTY = {
    "dept": "department",
    "depts": "department",
    "country": "location",
    "countries": "location",
    "usage": "location",
    "title": "jobTitle",
    "titles": "jobTitle",
    "company": "companyName",
}


class _RuleMaker:
    """Draws licensing-group rules as admins write them, from the tenant's own value pools."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.shape = TenantShape(seed)

    def pick(self, pool: Sequence[str], weights: Sequence[float] | None = None) -> str:
        return self.rng.choices(pool, weights)[0] if weights else self.rng.choice(pool)

    def some(self, pool: Sequence[str], low: int, high: int) -> list[str]:
        return self.rng.sample(list(pool), self.rng.randint(low, high))

    def base(self) -> list[str]:
        """The guard almost every licensing rule starts with."""
        clauses = ["user.accountEnabled -eq true"]
        if self.rng.random() < 0.85:
            clauses.append('user.userType -eq "Member"')
        return clauses

    def scope(self, avoid: set[str] | None = None) -> str:
        """One department/country/location/title/company condition, on a property not in `avoid`."""
        rng = self.rng
        kinds = [kind for kind in _SCOPE_WEIGHTS if _SCOPE_PROPERTY[kind] not in (avoid or ())]
        kind = rng.choices(kinds, [_SCOPE_WEIGHTS[kind] for kind in kinds])[0]
        if avoid is not None:
            avoid.add(_SCOPE_PROPERTY[kind])
        if kind == "dept":
            value = self.pick(DEPARTMENTS, self.shape.department_weights)
            # Admins don't always match the directory's case; the rule language ignores it.
            return f"user.department -eq {_q(value if rng.random() < 0.9 else value.lower())}"
        if kind == "depts":
            return f"user.department -in {_qlist(self.some(DEPARTMENTS, 2, 6))}"
        if kind == "country":
            return f"user.country -eq {_q(COUNTRY_NAMES[self.pick(COUNTRIES, COUNTRY_WEIGHTS)])}"
        if kind == "countries":
            names = [COUNTRY_NAMES[code] for code in self.some(COUNTRIES, 2, 8)]
            return f"user.country -in {_qlist(names)}"
        if kind == "usage":
            operator = rng.choice(["-eq", "-eq", "-ne"])
            return f"user.usageLocation {operator} {_q(self.pick(COUNTRIES, COUNTRY_WEIGHTS))}"
        if kind == "title":
            role = self.pick(_ROLES)
            return f"user.jobTitle -startsWith {_q(self.pick(_LEVELS[1:]) + role.split()[0])}"
        if kind == "company":
            return f"user.companyName -eq {_q(self.pick(COMPANIES, COMPANY_WEIGHTS))}"
        return f"user.jobTitle -in {_qlist(self.some(JOB_TITLES, 2, 5))}"

    def negated_scope(self) -> str:
        """A `-not (...)` carve-out of whole departments, companies or worker types."""
        rng = self.rng
        kind = rng.randrange(3)
        if kind == 0:
            return f"-not (user.department -in {_qlist(self.some(DEPARTMENTS, 1, 3))})"
        if kind == 1:
            return f"-not (user.companyName -eq {_q(self.pick(COMPANIES[2:]))})"
        return '-not (user.extensionAttribute2 -in ["Contractor", "Vendor", "Intern"])'

    def exclusion(self) -> str:
        """A carve-out: -notIn, -ne or -not, as licensing groups use to exclude people."""
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0:
            return f"user.department -notIn {_qlist(self.some(DEPARTMENTS, 1, 4))}"
        if kind == 1:
            return f"user.extensionAttribute2 -ne {_q(rng.choice(['Contractor', 'Vendor']))}"
        if kind == 2:
            return f"-not (user.jobTitle -contains {_q(rng.choice(['Intern', 'Junior']))})"
        return f"user.companyName -ne {_q(self.pick(COMPANIES))}"

    def extension(self) -> str:
        rng = self.rng
        kind = rng.randrange(3)
        if kind == 0:
            return f"user.extensionAttribute1 -startsWith {_q(f'CC1{rng.randint(0, 3)}')}"
        if kind == 1:
            return f"user.extensionAttribute2 -eq {_q(rng.choice(EMPLOYMENT_TYPES))}"
        return f"user.extensionAttribute3 -in {_qlist(self.some(['E3', 'E5', 'F3', 'E1'], 1, 2))}"

    def text_match(self) -> str:
        """The ~10% of rules that test jobTitle, mail or UPN as text."""
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            return f"user.jobTitle -contains {_q(self.pick(_ROLES).split()[-1])}"
        if kind == 1:
            return f"user.mail -endsWith {_q('@' + DOMAIN)}"
        if kind == 2:
            return 'user.userPrincipalName -notContains "#EXT#"'
        if kind == 3:
            words = "|".join(role.split()[0] for role in self.some(_ROLES, 2, 3))
            return f"user.jobTitle -match {_q(f'^(Senior |Lead )?({words})')}"
        return f"user.mail -match {_q(_MAIL_PATTERN)}"

    def collection(self) -> str:
        """The ~5% of rules over assignedPlans or proxyAddresses."""
        rng = self.rng
        _, plan_id, _ = rng.choice(SERVICE_PLANS)
        kind = rng.randrange(3)
        if kind == 0:
            return (
                f"user.assignedPlans -any (assignedPlan.servicePlanId -eq {_q(plan_id)} "
                '-and assignedPlan.capabilityStatus -eq "Enabled")'
            )
        if kind == 1:
            return 'user.proxyAddresses -any (_ -startsWith "SIP:")'
        return 'user.proxyAddresses -any _ -endsWith "@contoso.mail.onmicrosoft.com"'

    def licensing(self, extras: list[Callable[[], str]]) -> str:
        used: set[str] = set()
        clauses = [*self.base(), self.scope(used)]
        if self.rng.random() < 0.35:
            clauses.append(self.scope(used))
        clauses += [extra() for extra in extras]
        if self.rng.random() < 0.1:
            # Regional bundles: an -or of scopes inside the -and.
            clauses.append(f"({self.scope(used)} -or {self.scope(used)})")
        # Admins write the guard first and the rest in any order.
        tail = clauses[1:]
        self.rng.shuffle(tail)
        return " -and ".join([clauses[0], *tail])

    def hire_date(self) -> str:
        days = self.rng.choice([30, 60, 90, 14])
        return " -and ".join(
            [*self.base(), f"user.employeeHireDate -ge system.now -plus -P{days}D"]
        )

    def direct_reports(self, manager_id: str) -> str:
        return f'Direct Reports for "{manager_id}"'

    def member_of(self) -> str:
        groups = self.rng.sample(self.shape.group_ids, self.rng.randint(1, 5))
        return f"user.memberOf -any (group.objectId -in [{', '.join(map(repr, groups))}])"


def make_rules(count: int, manager_ids: Sequence[str], seed: int = 7) -> list[str]:
    """`count` varied licensing-group rules; `manager_ids` feed the Direct Reports rules."""
    maker = _RuleMaker(seed)
    rng = maker.rng
    rules: list[str] = []
    for position in range(count):
        slot = position % 100  # a fixed mix per hundred rules, so any prefix is representative
        if slot < 2:
            rules.append(maker.direct_reports(rng.choice(list(manager_ids))))
        elif slot < 4:
            rules.append(maker.member_of())
        elif slot < 6:
            rules.append(maker.hire_date())
        elif slot < 11:
            rules.append(maker.licensing([maker.collection]))
        elif slot < 21:
            rules.append(maker.licensing([maker.text_match]))
        elif slot < 36:
            rules.append(maker.licensing([maker.exclusion]))
        elif slot < 46:
            rules.append(maker.licensing([maker.extension]))
        elif slot < 50:
            rules.append(maker.licensing([maker.negated_scope]))
        else:
            rules.append(maker.licensing([]))
    return rules


# --- one long rule ----------------------------------------------------------------------------


def long_rule(length: int = 3072, seed: int = 3) -> str:
    """A realistic rule of exactly `length` characters: an -or of regional -and bundles."""
    maker = _RuleMaker(seed)
    reserve = len(" -or ") + len(_filler_clause("")) + 8
    text = ""
    while True:
        bundle = "(" + maker.licensing([maker.extension, maker.collection]) + ")"
        if len(text) + len(" -or ") + len(bundle) + reserve > length:
            break
        text = f"{text} -or {bundle}" if text else bundle
    # Top up with single site comparisons, then size the last value to hit `length` exactly.
    while True:
        site = f"user.city -eq {_q(maker.rng.choice(_COUNTRY_SITES['US']).partition('/')[0])}"
        if len(text) + len(" -or ") + len(site) + reserve > length:
            break
        text = f"{text} -or {site}"
    room = length - len(text) - len(" -or ") - len(_filler_clause(""))
    return f"{text} -or {_filler_clause(('Building ' + 'A' * length)[:room])}"


def _filler_clause(value: str) -> str:
    return f"user.physicalDeliveryOfficeName -startsWith {_q(value)}"


# --- a whole tenant ---------------------------------------------------------------------------


# The guard every licensing rule of the synthetic tenant starts with.
STAFF = 'user.accountEnabled -eq true -and user.userType -eq "Member"'
_EMEA = ["GB", "DE", "FR", "NL", "ES", "IT", "SE", "CH", "IE", "PL", "BE", "DK", "NO", "FI"]
_AMERICAS = ["US", "CA", "BR", "MX"]
_APAC = ["IN", "AU", "JP", "SG", "CN", "KR"]


def _departments(*names: str) -> str:
    return (
        f"user.department -in {_qlist(names)}"
        if len(names) > 1
        else f"user.department -eq {_q(names[0])}"
    )


def _countries(codes: Sequence[str]) -> str:
    return f"user.country -in {_qlist([COUNTRY_NAMES[code] for code in codes])}"


# One license of a group: (skuPartNumber, "disabledPlans" | "enabledPlans", service plan names),
# as a policy writes it.
LicenseSpec = tuple[str, str, tuple[str, ...]]


def _off(sku: str, *plans: str) -> LicenseSpec:
    return (sku, "disabledPlans", plans)


def _only(sku: str, *plans: str) -> LicenseSpec:
    return (sku, "enabledPlans", plans)


# The synthetic tenant's dynamic licensing groups: (displayName, membershipRule, licenses), over
# departments and countries, as a multinational licenses by role and region.
LICENSING_GROUPS: list[tuple[str, str, tuple[LicenseSpec, ...]]] = [
    ("LIC-EMS-E3-AllStaff", STAFF, (_only("EMS", "INTUNE_A", "AAD_PREMIUM"),)),
    ("LIC-EMS-Guests", 'user.userType -eq "Guest" -and user.accountEnabled -eq true',
     (_only("EMS", "AAD_PREMIUM", "MFA_PREMIUM"),)),
    ("LIC-M365-E5-Sales", f"{STAFF} -and {_departments('Sales', 'Inside Sales', 'Partner Sales')}",
     (_off("SPE_E5", "YAMMER_ENTERPRISE"),)),
    ("LIC-M365-E5-Leadership",
     f'{STAFF} -and (user.jobTitle -startsWith "Principal" -or user.jobTitle -eq "Controller")',
     (_off("SPE_E5"),)),
    ("LIC-M365-E5-Security", f"{STAFF} -and {_departments('Security', 'IT', 'Risk & Compliance')}",
     (_off("SPE_E5", "YAMMER_ENTERPRISE", "SWAY"),)),
    ("LIC-M365-E5-Executive", f"{STAFF} -and {_departments('Executive Office')}",
     (_off("SPE_E5"), _off("POWER_BI_PRO"), _off("VISIOCLIENT"))),
    ("LIC-M365-E3-Engineering",
     f"{STAFF} -and {_departments('Engineering', 'Research & Development', 'Quality Assurance')}",
     (_off("SPE_E3", "SWAY", "KAIZALA_O365_P3"),)),
    ("LIC-M365-E3-Corporate",
     f"{STAFF} -and "
     + _departments("Marketing", "Finance", "Human Resources", "Legal", "Procurement",
                    "Communications", "Corporate Strategy"),
     (_off("SPE_E3"),)),
    ("LIC-M365-E3-Product",
     f"{STAFF} -and {_departments('Product Management', 'Design', 'Data & Analytics')}",
     (_off("SPE_E3", "YAMMER_ENTERPRISE"),)),
    ("LIC-M365-E3-Support",
     f"{STAFF} -and {_departments('Customer Support', 'Customer Success', 'Service Desk')}",
     (_off("SPE_E3", "YAMMER_ENTERPRISE", "SWAY"),)),
    ("LIC-M365-E3-Consulting-Americas",
     f"{STAFF} -and {_departments('Professional Services', 'Business Development')} "
     f"-and {_countries(_AMERICAS)}",
     (_off("SPE_E3"),)),
    ("LIC-M365-E3-Consulting-APAC",
     f"{STAFF} -and {_departments('Professional Services', 'Business Development')} "
     f"-and {_countries(_APAC)}",
     (_off("SPE_E3", "SWAY"),)),
    ("LIC-O365-E3-Operations",
     f"{STAFF} -and "
     + _departments("Operations", "Manufacturing", "Logistics", "Supply Chain", "Warehouse",
                    "Facilities"),
     (_off("ENTERPRISEPACK", "YAMMER_ENTERPRISE", "SWAY"),)),
    ("LIC-O365-E3-Retail", f"{STAFF} -and {_departments('Retail', 'Field Service')}",
     (_off("ENTERPRISEPACK", "SWAY"),)),
    ("LIC-O365-E3-Finance-Office",
     f"{STAFF} -and {_departments('Treasury', 'Tax', 'Internal Audit', 'Investor Relations')}",
     (_off("ENTERPRISEPACK"),)),
    ("LIC-O365-E3-Consulting-EMEA",
     f"{STAFF} -and {_departments('Professional Services', 'Business Development')} "
     f"-and {_countries(_EMEA)}",
     (_off("ENTERPRISEPACK"),)),
    ("LIC-O365-E3-Public-EMEA",
     f"{STAFF} -and {_departments('Clinical', 'Public Sector', 'Training')} "
     f"-and {_countries(_EMEA)}",
     (_off("ENTERPRISEPACK", "YAMMER_ENTERPRISE"),)),
    ("LIC-PowerBI-Analytics-EMEA",
     f"{STAFF} -and {_departments('Data & Analytics')} -and {_countries(_EMEA)}",
     (_off("POWER_BI_PRO"),)),
    ("LIC-PowerBI-Finance-Americas",
     f"{STAFF} -and {_departments('Finance', 'Treasury')} -and {_countries(_AMERICAS)}",
     (_off("POWER_BI_PRO"),)),
    ("LIC-Visio-Design", f"{STAFF} -and {_departments('Design')}", (_off("VISIOCLIENT"),)),
    ("LIC-Visio-Architects", f'{STAFF} -and user.jobTitle -contains "Architect"',
     (_off("VISIOCLIENT"),)),
]  # fmt: skip

# Assigned (static) groups: (displayName, share of the users who are members, licenses).
STATIC_GROUPS: list[tuple[str, float, tuple[LicenseSpec, ...]]] = [
    ("LIC-PowerBI-Pro", 0.01, (_off("POWER_BI_PRO"),)),
    ("LIC-Visio-Legacy", 0.008, (_off("VISIOCLIENT"),)),
    ("Finance Analysts", 0.002, ()),  # no licenses; nested in LIC-PowerBI-Pro
]

# Direct licenses: (skuPartNumber, share of the users who hold one).
DIRECT_LICENSES = [("VISIOCLIENT", 0.005), ("POWER_BI_PRO", 0.005), ("SPE_E5", 0.002)]


def make_tenant(
    count: int, subscribed_skus: Sequence[dict[str, Any]], seed: int = 1
) -> dict[str, Any]:
    """A Graph-shaped tenant snapshot document of `count` users from `make_users`.

    `subscribed_skus` are Graph `subscribedSku` objects, taken as the products the tenant has
    bought (every one must be named by LICENSING_GROUPS, STATIC_GROUPS and DIRECT_LICENSES);
    their seats are set to twice the users, so that no assignment fails. Group members and
    license states are left for the caller to settle (dynamic members are empty, group
    licenses not yet on the users): `reconciler.engine.recompute` does it as Entra would.
    """
    rng = random.Random(seed ^ 0x7E4A47)
    users = make_users(count, seed)
    for user in users:
        # memberOf names the TenantShape's made-up groups; a snapshot lists groups' members
        del user["memberOf"]
        user["assignedLicenses"] = []
        user["licenseAssignmentStates"] = []
    skus = {sku["skuPartNumber"]: sku for sku in subscribed_skus}
    for part_number, share in DIRECT_LICENSES:
        for user in rng.sample(users, round(count * share)):
            user["licenseAssignmentStates"].append(
                {"skuId": skus[part_number]["skuId"], "disabledPlans": [], "assignedByGroup": None}
            )
    groups = [
        _group_document(rng, name, licenses, skus, rule=rule)
        for name, rule, licenses in LICENSING_GROUPS
    ]
    enabled = [user["id"] for user in users if user["accountEnabled"]]
    for name, share, licenses in STATIC_GROUPS:
        members = sorted(rng.sample(enabled, round(len(enabled) * share)))
        groups.append(_group_document(rng, name, licenses, skus, members=members))
    by_name = {group["displayName"]: group for group in groups}
    by_name["LIC-PowerBI-Pro"]["members"].append(by_name["Finance Analysts"]["id"])
    groups.append(
        {
            "id": _guid(rng),
            "displayName": "Contoso Engineering",
            "groupTypes": ["Unified", "DynamicMembership"],
            "securityEnabled": False,
            "mailEnabled": True,
            "mailNickname": "engineering",
            "membershipRule": 'user.department -eq "Engineering"',
            "membershipRuleProcessingState": "On",
            "members": [],
        }
    )
    return {
        "formatVersion": 1,
        "organization": {
            "id": _guid(rng),
            "displayName": "Contoso (synthetic)",
            "countryLetterCode": "US",
            "verifiedDomains": [
                {"name": "contoso.onmicrosoft.com", "isInitial": True, "isDefault": False},
                {"name": DOMAIN, "isInitial": False, "isDefault": True},
            ],
        },
        "subscribedSkus": [
            {**sku, "consumedUnits": 0, "prepaidUnits": {"enabled": 2 * count}}
            for sku in subscribed_skus
        ],
        "users": users,
        "groups": groups,
    }


def disabled_plan_ids(license: LicenseSpec, sku: dict[str, Any]) -> list[str]:
    """The servicePlanIds a license spec turns off in `sku` (a Graph subscribedSku)."""
    _, mode, names = license
    plans = {plan["servicePlanName"]: plan["servicePlanId"] for plan in sku["servicePlans"]}
    if mode == "enabledPlans":
        return sorted(plan_id for name, plan_id in plans.items() if name not in names)
    return sorted(plans[name] for name in names)


def _group_document(
    rng: random.Random,
    name: str,
    licenses: Sequence[LicenseSpec],
    skus: dict[str, dict[str, Any]],
    rule: str | None = None,
    members: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": _guid(rng),
        "displayName": name,
        "groupTypes": ["DynamicMembership"] if rule else [],
        "securityEnabled": True,
        "mailEnabled": False,
        "membershipRule": rule,
        "membershipRuleProcessingState": "On" if rule else None,
        "assignedLicenses": [
            {
                "skuId": skus[license[0]]["skuId"],
                "disabledPlans": disabled_plan_ids(license, skus[license[0]]),
            }
            for license in licenses
        ],
        "members": members or [],
    }
