"""The API key format, its hash and what each scope allows. Pure: no database, no HTTP.

A key reads `fai_<key id>_<secret>`: the key id is public (listed, logged, used to find the
row), the secret is 256 random bits shown once and stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "fai"
KEY_ID_HEX_CHARS = 12
SECRET_BYTES = 32
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{{KEY_ID_HEX_CHARS}}})_([A-Za-z0-9_-]{{43}})$")


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    TRAIN = "train"
    ADMIN = "admin"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str
    secret_sha256: str


@dataclass(frozen=True)
class PresentedKey:
    key_id: str
    secret: str


def generate_key() -> NewKey:
    key_id = secrets.token_hex(KEY_ID_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token = f"{PREFIX}_{key_id}_{secret}"
    return NewKey(key_id=key_id, token=token, secret_sha256=hash_secret(secret))


def parse_token(token: str) -> PresentedKey | None:
    """The key id and secret of a well-formed key; None for anything else."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    return PresentedKey(key_id=match.group(1), secret=match.group(2))


def hash_secret(secret: str) -> str:
    # A plain SHA-256 is the right hash here: the secret is 256 random bits, so neither
    # guessing it nor brute-forcing the stored hash is feasible. Slow password hashes
    # (bcrypt, argon2) exist to stretch low-entropy passwords; here they would only add
    # milliseconds to every key verification.
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, secret_sha256: str) -> bool:
    # Constant time, so the comparison's duration tells nothing about how much matched.
    return hmac.compare_digest(hash_secret(secret).encode(), secret_sha256.encode())


def grants(scopes: Iterable[str], needed: Scope) -> bool:
    """Whether a key with `scopes` may do what `needed` covers; admin covers everything."""
    held = set(scopes)
    return Scope.ADMIN.value in held or needed.value in held
