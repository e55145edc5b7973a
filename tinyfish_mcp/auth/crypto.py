"""Secrets at rest: the API-key cipher, token hashing, and the CSRF MAC.

Everything derives from one deployment secret (``TINYFISH_MCP_SECRET``) through HKDF,
with a distinct ``info`` label per use, so the encryption key and the CSRF key are never
the same bytes. API keys are sealed with AES-256-GCM; the grant id is the associated
data, so a ciphertext copied onto another grant's row does not decrypt. Tokens, codes
and transaction ids are stored only as SHA-256 digests: they are 256-bit random values,
so a plain hash is enough (no salt or slow KDF is needed against guessing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "MIN_SECRET_LENGTH",
    "DecryptionError",
    "KeyCipher",
    "SecretTooWeakError",
    "csrf_token",
    "hash_secret",
    "new_secret",
]

MIN_SECRET_LENGTH = 32
"""Characters required of ``TINYFISH_MCP_SECRET``; ``secrets.token_urlsafe(32)`` gives 43."""

# One version byte in front of every ciphertext, so a future key rotation can tell
# old and new formats apart without a schema change.
_FORMAT_V1 = b"\x01"
_NONCE_BYTES = 12
_TOKEN_BYTES = 32


class SecretTooWeakError(ValueError):
    """The deployment secret is missing or too short to derive keys from."""


class DecryptionError(Exception):
    """A stored ciphertext did not authenticate (wrong secret, or tampered row)."""


def _derive(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tinyfish-mcp/" + label).derive(
        secret.encode()
    )


def new_secret() -> str:
    """A fresh 256-bit URL-safe random value (tokens, codes, transaction ids)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def hash_secret(value: str) -> str:
    """The SHA-256 hex digest under which a token, code or transaction id is stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def csrf_token(key: bytes, *parts: str) -> str:
    """A MAC over ``parts`` (the transaction id and the browser's consent cookie)."""
    mac = hmac.new(key, "\x00".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class KeyCipher:
    """AES-256-GCM with keys derived from the deployment secret.

    ``previous`` secrets (``TINYFISH_MCP_SECRET_PREVIOUS``, during a rotation) still open
    what they sealed, and their CSRF tokens are still accepted; only ``secret`` seals.
    """

    def __init__(self, secret: str, previous: tuple[str, ...] = ()) -> None:
        named = [("TINYFISH_MCP_SECRET", secret), *(("TINYFISH_MCP_SECRET_PREVIOUS", p) for p in previous)]
        for name, value in named:
            if len(value.strip()) < MIN_SECRET_LENGTH:
                raise SecretTooWeakError(
                    f"{name} must be at least {MIN_SECRET_LENGTH} characters of random text (for example "
                    'the output of: python -c "import secrets; print(secrets.token_urlsafe(32))").'
                )
        self._aead = AESGCM(_derive(secret, b"api-key-encryption/v1"))
        self._previous = [AESGCM(_derive(p, b"api-key-encryption/v1")) for p in previous]
        self.csrf_key = _derive(secret, b"consent-csrf/v1")
        self.csrf_keys = (self.csrf_key, *(_derive(p, b"consent-csrf/v1") for p in previous))

    def encrypt(self, plaintext: str, *, bound_to: str) -> bytes:
        """Seal ``plaintext``; it only opens again with the same ``bound_to`` value."""
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())

    def encrypt_text(self, plaintext: str, *, bound_to: str) -> str:
        """:meth:`encrypt`, as URL-safe base64 text (for values kept inside JSON)."""
        return base64.urlsafe_b64encode(self.encrypt(plaintext, bound_to=bound_to)).decode()

    def decrypt_text(self, text: str, *, bound_to: str) -> str:
        """Open a value sealed by :meth:`encrypt_text`."""
        try:
            blob = base64.urlsafe_b64decode(text.encode())
        except ValueError as exc:
            raise DecryptionError("stored value is not base64") from exc
        return self.decrypt(blob, bound_to=bound_to)

    def decrypt(self, blob: bytes, *, bound_to: str) -> str:
        """Open a value sealed by :meth:`encrypt`."""
        if blob[:1] != _FORMAT_V1 or len(blob) < 1 + _NONCE_BYTES + 16:
            raise DecryptionError("unknown ciphertext format")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        for aead in (self._aead, *self._previous):
            try:
                return aead.decrypt(nonce, sealed, bound_to.encode()).decode()
            except InvalidTag:
                continue
        raise DecryptionError("stored key did not authenticate")
