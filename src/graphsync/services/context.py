"""What every service function receives: one transaction, scoped to one tenant."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from graphsync.clock import Clock
from graphsync.config import Settings
from graphsync.crypto import Cipher


@dataclass
class Context:
    conn: Connection
    tenant_id: str
    clock: Clock
    cipher: Cipher
    settings: Settings

    def now(self) -> datetime:
        return self.clock.now()
