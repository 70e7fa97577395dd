"""Encryption at rest for secrets the server must read back (auth tokens).

AES-256-GCM with a key derived from the server's secret key. The auth token
is needed in clear to sign webhooks the way Twilio does, so it cannot be a
one-way hash.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orchestrion.domain.errors import StoreUnavailable


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(b"orchestrion-secrets-v1:" + secret_key.encode()).digest())

    def __repr__(self) -> str:
        return "SecretBox(<redacted>)"

    def encrypt(self, plaintext: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), None)

    def decrypt(self, blob: bytes) -> str:
        blob = bytes(blob)
        try:
            return self._aead.decrypt(blob[:12], blob[12:], None).decode()
        except InvalidTag as error:
            raise StoreUnavailable(
                "A stored secret cannot be decrypted: ORCHESTRION_SECRET_KEY differs from the one it was written with"
            ) from error
