"""How API client secrets are stored: a keyed hash, fast to check and useless without the key.

A client secret is 128 random characters, so there is nothing to guess, and a slow password hash
(PBKDF2 with a million iterations: a quarter of a second of CPU or more per token request) only
hands anyone who can reach the token endpoint a way to burn server CPU. What a slow hash guards
against, someone with a database dump testing secrets offline, is covered here by the key: an
HMAC-SHA256 under a key derived from SECRET_KEY, which a dump does not contain.

Each hash names the key it was made with, so rotating SECRET_KEY (old key moved to
SECRET_KEY_FALLBACKS) keeps secrets working, and a secret checked against a fallback key is
stored again under the current one.
"""

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

KEY_PURPOSE = b"catalogue-client-secret-hash"


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), KEY_PURPOSE, hashlib.sha256).digest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _keys() -> dict[str, bytes]:
    """Key id -> key, the current SECRET_KEY's first."""
    keys = {}
    for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        key = _key(secret_key)
        keys.setdefault(_key_id(key), key)
    return keys


class ClientSecretHasher(BasePasswordHasher):
    """HMAC-SHA256 of salt + secret under a key derived from SECRET_KEY.

    For machine-generated secrets only: never put it first in PASSWORD_HASHERS, where it
    would hash people's passwords.
    """

    algorithm = "hmac_sha256"

    def _digest(self, key: bytes, password: str, salt: str) -> str:
        return hmac.new(key, f"{salt}${password}".encode(), hashlib.sha256).hexdigest()

    def encode(self, password, salt):
        self._check_encode_args(password, salt)
        key_id, key = next(iter(_keys().items()))
        return f"{self.algorithm}${key_id}${salt}${self._digest(key, password, salt)}"

    def decode(self, encoded):
        algorithm, key_id, salt, digest = encoded.split("$", 3)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "key_id": key_id, "salt": salt, "hash": digest}

    def verify(self, password, encoded):
        try:
            decoded = self.decode(encoded)
        except (ValueError, AssertionError):
            return False
        key = _keys().get(decoded["key_id"])
        if key is None:  # made with a key this server no longer has
            return False
        expected = self._digest(key, password, decoded["salt"])
        return constant_time_compare(expected, decoded["hash"])

    def must_update(self, encoded):
        try:
            key_id = self.decode(encoded)["key_id"]
        except (ValueError, AssertionError):
            return True
        return key_id != next(iter(_keys()))

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "key": decoded["key_id"],
            "salt": mask_hash(decoded["salt"], show=2),
            "hash": mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password, encoded):
        pass
