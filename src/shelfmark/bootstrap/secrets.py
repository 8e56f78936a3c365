"""The token signing key: from settings, or generated once into the var directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from shelfmark.config import Settings

KEY_FILE = "jwt.key"
MIN_KEY_LENGTH = 32


def signing_key(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        key = settings.jwt_secret.get_secret_value()
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"SHELFMARK_JWT_SECRET must have at least {MIN_KEY_LENGTH} characters")
        return key
    path = Path(settings.var_dir) / KEY_FILE
    if not path.exists():
        _create_once(path)
    key = path.read_text().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{path} holds a key shorter than {MIN_KEY_LENGTH} characters")
    return key


def _create_once(path: Path) -> None:
    """Writes a fresh key beside the file, then links it into place: a process starting at
    the same moment either wins the link or reads the winner's complete key, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(48))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
