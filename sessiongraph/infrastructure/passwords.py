"""Password hashes (argon2id, argon2-cffi's defaults) and the secrets sign-in hands out.

Hashing and verifying cost tens of milliseconds of CPU on purpose; they run in a worker
thread so that the event loop keeps serving everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, RFC 9106's second recommended parameters

# Verified against when the address names no user (or a user without a password), so that an
# unknown address costs the same time as a wrong password and the answer tells nothing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1_000  # argon2 takes any length; this only bounds the work one request asks for


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash, False after the same work as a real check."""
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


def password_problem(password: str) -> str | None:
    """Why a new password is refused (WEAK_PASSWORD); None when it will do."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"A password has at most {MAX_PASSWORD_LENGTH} characters."
    if len(set(password)) < 4:
        return "A password needs more than a few different characters."
    return None


def new_secret() -> str:
    """A refresh token or an invitation: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256 (the secret has 256 bits; no slow hash is needed)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
