"""Secrets at rest: AES-256-GCM with a master key from the environment or a 0600 key file."""
from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


class Cipher:
    """Encrypts short strings; the associated data binds a ciphertext to where it is stored."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("the secret key must be 32 bytes (AES-256)")
        self._aes = AESGCM(key)

    def encrypt(self, plaintext: str, associated: str = "") -> str:
        nonce = os.urandom(12)
        sealed = self._aes.encrypt(nonce, plaintext.encode(), associated.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, associated: str = "") -> str:
        if not token.startswith(_PREFIX):
            raise ValueError("unknown ciphertext format")
        raw = base64.b64decode(token[len(_PREFIX):])
        return self._aes.decrypt(raw[:12], raw[12:], associated.encode()).decode()


def load_key(secret_key: str, data_dir: Path, *, ephemeral: bool = False) -> bytes:
    """The master key: from GRAPHSYNC_SECRET_KEY, else ``data_dir/master.key`` (created 0600)."""
    if secret_key:
        key = base64.b64decode(secret_key)
        if len(key) != 32:
            raise ValueError("GRAPHSYNC_SECRET_KEY must be 32 bytes, base64-encoded")
        return key
    if ephemeral:
        return AESGCM.generate_key(bit_length=256)
    path = data_dir / "master.key"
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # only its owner may list or enter it
    key = AESGCM.generate_key(bit_length=256)
    # written in full under a private name, then linked into place: processes starting together
    # (serve and workers) agree on the first key to land and never read a half-written file
    draft = data_dir / f".master.key.{os.getpid()}.{os.urandom(4).hex()}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(key).decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            return base64.b64decode(path.read_text().strip())
    finally:
        draft.unlink(missing_ok=True)
    return key
