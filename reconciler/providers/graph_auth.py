"""Signing in to Microsoft Graph: which credential, which scope, and never a token in sight.

* A loopback `--graph-url` (127.0.0.1, localhost, ::1: the emulator) gets a fixed dummy bearer
  token; Azure is never called.
* Otherwise azure-identity signs in. By default `DefaultAzureCredential`, which tries in turn the
  environment (AZURE_TENANT_ID + AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with
  AZURE_CLIENT_CERTIFICATE_PATH for a certificate), workload identity federation (GitHub OIDC,
  AZURE_FEDERATED_TOKEN_FILE), managed identity and the Azure CLI.
  `RECONCILER_GRAPH_AUTH=device-code` signs in with a device code in a terminal instead (an
  environment switch, so every command has it and a pipeline can't trip on it); the prompt goes
  to standard error.
* The scope is `<graph host>/.default`, taken from the URL, so national clouds
  (graph.microsoft.us, dod-graph.microsoft.us, microsoftgraph.chinacloudapi.cn) work.

A token lives only in the `Authorization` header httpx sends; nothing here puts one in a message.
Sign-in failures from azure-identity are reduced to their class name and first line, since their
text can quote what the environment held.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from reconciler.errors import InputError, Location, ReconcilerError
from reconciler.objectfile import MIB, read_bytes
from reconciler.providers.base import ProviderError

__all__ = [
    "AUTH_ENV",
    "EMULATOR_TOKEN",
    "TokenSource",
    "is_loopback",
    "scope_for",
    "token_source",
]

EMULATOR_TOKEN = "reconciler-emulator"  # any bearer token will do for the emulator
AUTH_ENV = "RECONCILER_GRAPH_AUTH"  # "device-code" for a device-code sign-in; default: default
_REFRESH_MARGIN = 300.0  # seconds before expiry at which a token is renewed
MAX_CERTIFICATE_SIZE = MIB  # a certificate and its key are a few kilobytes
CERTIFICATE_PASSWORD = "AZURE_CLIENT_CERTIFICATE_PASSWORD"


class Credential(Protocol):
    """The part of azure-identity's TokenCredential used here."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


TokenSource = Callable[[], str]


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine (where the emulator runs)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scope_for(url: str) -> str:
    """The `.default` scope of the Graph cloud that `url` belongs to."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ProviderError(
            f"--graph-url {url!r} is not a URL like https://graph.microsoft.com/v1.0"
        )
    return f"https://{parts.hostname}/.default"


def token_source(
    url: str, *, device_code: bool | None = None, credential: Credential | None = None
) -> TokenSource:
    """A function giving a valid bearer token for `url`, renewed as it nears expiry."""
    if is_loopback(url):
        return lambda: EMULATOR_TOKEN
    if urlsplit(url).scheme != "https":
        # a real token must never cross the network in clear text
        raise InputError(f"--graph-url {url} must use https (only the local emulator may not)")
    scope = scope_for(url)
    if credential is None:
        if device_code is None:
            device_code = os.environ.get(AUTH_ENV, "").strip().lower() == "device-code"
        try:
            credential = _device_code_credential() if device_code else _default_credential()
        except ReconcilerError:
            raise
        except Exception as exc:  # azure-identity reads the environment and files here
            raise ProviderError(_sign_in_failure(exc, scope)) from None
    return _CachedToken(credential, scope)


class _CachedToken:
    """Asks the credential once, then again only near expiry; safe across threads."""

    def __init__(self, credential: Credential, scope: str) -> None:
        self._credential = credential
        self._scope = scope
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - _REFRESH_MARGIN:
                try:
                    access = self._credential.get_token(self._scope)
                except Exception as exc:  # azure-identity raises several unrelated types
                    raise ProviderError(_sign_in_failure(exc, self._scope)) from None
                self._token = access.token
                self._expires = float(access.expires_on)
            return self._token

    def __repr__(self) -> str:  # never the token
        return f"<token for {self._scope}>"


def _sign_in_failure(exc: Exception, scope: str) -> str:
    # the first line only: azure-identity's later lines list every credential it tried, and
    # some quote environment values
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (
        f"can't sign in to Microsoft Graph for {scope} ({type(exc).__name__}: {first}). "
        "Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or "
        "AZURE_CLIENT_CERTIFICATE_PATH), use a managed or workload identity, run `az login`, or "
        f"set {AUTH_ENV}=device-code; see docs/graph.md"
    )


def _default_credential() -> Credential:
    from azure.identity import DefaultAzureCredential

    certificate = _certificate_path()
    if certificate is not None:
        # only a regular file of certificate size: azure-identity would wait on a FIFO
        try:
            read_bytes(Path(certificate), limit=MAX_CERTIFICATE_SIZE, kind="a certificate")
        except InputError as error:
            message = f"AZURE_CLIENT_CERTIFICATE_PATH: {error.message}"
            raise InputError(message, error.location) from None
    try:
        # interactive browser sign-in stays off: a pipeline must never wait for a person
        return DefaultAzureCredential(exclude_interactive_browser_credential=True)
    except ValueError:
        if certificate is None:
            raise
        # its text is azure-identity's, naming no secret; the password's value is never shown
        raise InputError(
            f"AZURE_CLIENT_CERTIFICATE_PATH: not a PEM or PKCS12 certificate with its private "
            f"key, or {CERTIFICATE_PASSWORD} doesn't open it",
            Location(certificate),
        ) from None


def _certificate_path() -> str | None:
    """The certificate azure-identity's EnvironmentCredential signs in with, if it does."""
    # it takes AZURE_CLIENT_SECRET first, and needs the tenant and the client with either
    needed = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH")
    if os.environ.get("AZURE_CLIENT_SECRET") or not all(os.environ.get(n) for n in needed):
        return None
    return os.environ["AZURE_CLIENT_CERTIFICATE_PATH"]


def _device_code_credential() -> Credential:
    from azure.identity import DeviceCodeCredential

    def prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
        # the user code is single-use and meant to be shown; it grants nothing by itself
        print(
            f"To sign in, open {verification_uri} and enter the code {user_code}",
            file=sys.stderr,
            flush=True,
        )

    tenant = os.environ.get("AZURE_TENANT_ID")
    client = os.environ.get("AZURE_CLIENT_ID")
    kwargs: dict[str, Any] = {"prompt_callback": prompt}
    if tenant:
        kwargs["tenant_id"] = tenant
    if client:
        kwargs["client_id"] = client
    return DeviceCodeCredential(**kwargs)
