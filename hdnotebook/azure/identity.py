"""Local stand-ins for the ``azure.identity`` credentials that SDK v2 samples create.

Nothing here signs in anywhere: jobs run on this machine, so a credential is only something to
hand to :class:`~hdnotebook.azure.ai.ml.MLClient`::

    >>> from hdnotebook.azure.identity import DefaultAzureCredential
    >>> credential = DefaultAzureCredential()
    >>> credential.get_token("https://management.azure.com/.default").token
    'local'
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

__all__ = [
    "AccessToken",
    "AzureCliCredential",
    "ChainedTokenCredential",
    "ClientSecretCredential",
    "DefaultAzureCredential",
    "EnvironmentCredential",
    "InteractiveBrowserCredential",
    "ManagedIdentityCredential",
]


class AccessToken(NamedTuple):
    """What ``get_token`` returns: a token and when it expires (seconds since the epoch)."""

    token: str
    expires_on: int


class _LocalCredential:
    """A credential that needs nothing: every argument is accepted and kept, none is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A placeholder token, valid for an hour (nothing checks it)."""
        return AccessToken("local", int(time.time()) + 3600)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> _LocalCredential:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}() (local stand-in: signs in nowhere)"


class DefaultAzureCredential(_LocalCredential):
    """``azure.identity.DefaultAzureCredential`` here: a local placeholder."""


class InteractiveBrowserCredential(_LocalCredential):
    """``azure.identity.InteractiveBrowserCredential`` here: a local placeholder (opens no browser)."""


class AzureCliCredential(_LocalCredential):
    """``azure.identity.AzureCliCredential`` here: a local placeholder."""


class ManagedIdentityCredential(_LocalCredential):
    """``azure.identity.ManagedIdentityCredential`` here: a local placeholder."""


class EnvironmentCredential(_LocalCredential):
    """``azure.identity.EnvironmentCredential`` here: a local placeholder."""


class ClientSecretCredential(_LocalCredential):
    """``azure.identity.ClientSecretCredential`` here: a local placeholder."""


class ChainedTokenCredential(_LocalCredential):
    """``azure.identity.ChainedTokenCredential`` here: a local placeholder."""
