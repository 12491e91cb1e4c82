"""Sign-in: the emulator gets a dummy token; a real cloud asks the credential for its scope."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from reconciler.errors import InputError
from reconciler.providers.base import ProviderError
from reconciler.providers.graph_auth import (
    AUTH_ENV,
    EMULATOR_TOKEN,
    is_loopback,
    scope_for,
    token_source,
)


class FakeCredential:
    """Stands in for azure-identity, which can't reach login.microsoftonline.com here."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.scopes: list[tuple[str, ...]] = []
        self.fail = fail

    def get_token(self, *scopes: str, **kwargs: object) -> SimpleNamespace:
        self.scopes.append(scopes)
        if self.fail is not None:
            raise self.fail
        return SimpleNamespace(token="secret-access-token", expires_on=int(time.time()) + 3600)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1.0", True),
        ("http://localhost:1/v1.0", True),
        ("http://[::1]:9/v1.0", True),
        ("https://graph.microsoft.com/v1.0", False),
        ("https://127.0.0.1.example.com/v1.0", False),
    ],
)
def test_loopback_urls_are_the_emulator(url, loopback):
    assert is_loopback(url) is loopback


def test_the_emulator_gets_a_fixed_token_and_azure_is_never_asked():
    credential = FakeCredential()
    token = token_source("http://127.0.0.1:5555/v1.0", credential=credential)
    assert token() == EMULATOR_TOKEN
    assert credential.scopes == []


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"),
        ("https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"),
        (
            "https://microsoftgraph.chinacloudapi.cn/v1.0",
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ),
    ],
)
def test_a_cloud_is_asked_for_the_default_scope_of_its_own_host(url, scope):
    assert scope_for(url) == scope
    credential = FakeCredential()
    token = token_source(url, credential=credential)
    assert token() == "secret-access-token"
    assert token() == "secret-access-token"
    assert credential.scopes == [(scope,)]  # asked once, then cached until near expiry
    assert "secret-access-token" not in repr(token)


def test_a_failed_sign_in_says_what_to_do_without_repeating_what_it_was_given():
    credential = FakeCredential(RuntimeError("AADSTS7000215: Invalid client secret\nsecret=abc"))
    token = token_source("https://graph.microsoft.com/v1.0", credential=credential)
    with pytest.raises(ProviderError) as caught:
        token()
    message = str(caught.value)
    assert "AADSTS7000215" in message and "secret=abc" not in message
    assert "AZURE_CLIENT_ID" in message and AUTH_ENV in message


def test_default_and_device_code_credentials_are_chosen_without_signing_in(monkeypatch):
    from azure.identity import DefaultAzureCredential, DeviceCodeCredential

    from reconciler.providers import graph_auth

    monkeypatch.delenv(AUTH_ENV, raising=False)
    assert isinstance(graph_auth._default_credential(), DefaultAzureCredential)
    assert isinstance(graph_auth._device_code_credential(), DeviceCodeCredential)
    chosen = []
    monkeypatch.setattr(graph_auth, "_default_credential", lambda: chosen.append("default"))
    monkeypatch.setattr(graph_auth, "_device_code_credential", lambda: chosen.append("device"))
    token_source("https://graph.microsoft.com/v1.0")
    monkeypatch.setenv(AUTH_ENV, "device-code")
    token_source("https://graph.microsoft.com/v1.0")
    assert chosen == ["default", "device"]


def test_a_url_that_is_no_url_is_refused():
    with pytest.raises(ProviderError, match="not a URL"):
        scope_for("graph.microsoft.com")


def test_a_real_token_is_never_asked_for_a_plain_http_graph_url():
    with pytest.raises(InputError, match="must use https"):
        token_source("http://graph.microsoft.com/v1.0", credential=object())  # type: ignore[arg-type]
