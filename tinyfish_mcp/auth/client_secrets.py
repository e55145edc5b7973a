"""Registered clients' secrets at rest: sealed (encrypted and bound to the client id).

The SDK compares a client's secret in plain text, so it cannot be stored hashed; it is
kept encrypted under the deployment's key instead, bound to its client id so that one
client's sealed secret never opens as another's. ``admin`` re-seals them when the key
rotates, through these three functions.
"""

from __future__ import annotations

from .crypto import KeyCipher

__all__ = ["is_sealed_secret", "open_client_secret", "seal_client_secret"]

_SEALED = "sealed:"


def _binding(client_id: str) -> str:
    return f"client-secret:{client_id}"


def is_sealed_secret(stored: str) -> bool:
    """Whether a stored ``client_secret`` is one this server sealed."""
    return stored.startswith(_SEALED)


def seal_client_secret(cipher: KeyCipher, client_id: str, secret: str) -> str:
    """A registered client's secret as it is stored."""
    return _SEALED + cipher.encrypt_text(secret, bound_to=_binding(client_id))


def open_client_secret(cipher: KeyCipher, client_id: str, stored: str) -> str:
    """The plain secret of :func:`seal_client_secret`; raises ``DecryptionError`` if it won't open."""
    return cipher.decrypt_text(stored.removeprefix(_SEALED), bound_to=_binding(client_id))
