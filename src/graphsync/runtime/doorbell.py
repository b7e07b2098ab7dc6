"""A wake-up between the processes that share one SQLite file (``serve --no-engine`` beside
``graphsync worker``s): SQLite has no LISTEN/NOTIFY, so a separate worker used to learn of a
``start`` or a ``bulkUpload`` at its next poll (a second later, on average half of it).

Those processes are on one host by necessity (SQLite over a network file system is unsafe), so a
folder of Unix datagram sockets beside the database does: every process that runs the engine binds
one, ``<database>.wake/<random>.sock``, and a process whose request committed something the
engine should act on sends one byte to each socket there. A byte only makes the receiver look for
due work at once, which it does anyway at its next poll: a lost, late or forged one costs nothing,
and the poll stays the guarantee. A socket whose process died is refused on send and removed."""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger("graphsync.doorbell")

MAX_SOCKET_PATH = 103  # sun_path holds 108 bytes on Linux, 104 on macOS, with the closing NUL


class Doorbell:
    def __init__(self, folder: Path):
        self.folder = folder
        self._path: Path | None = None  # this process's socket, once it listens
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    @classmethod
    def beside(cls, database_file: str) -> Doorbell | None:
        """The doorbell of the processes sharing ``database_file`` (None where there are no Unix sockets)."""
        if not database_file or not hasattr(socket, "AF_UNIX"):
            return None
        return cls(Path(f"{database_file}.wake"))

    def listen(self, on_ring: Callable[[], None]) -> bool:
        """Call ``on_ring`` (from a thread of its own) whenever another process rings. False when the
        socket cannot be made (a path too long for a socket, a read-only folder): the poll remains."""
        path = self.folder / f"{secrets.token_hex(4)}.sock"
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            log.warning("no doorbell: %s is too long for a Unix socket; workers find work at their poll", path)
            return False
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(path))
        except OSError as exc:
            log.warning("no doorbell (%s); workers find work at their poll", exc)
            return False
        self._path, self._socket = path, sock
        self._closed.clear()  # listening again after a close
        self._thread = threading.Thread(target=self._receive, args=(on_ring,), name="graphsync-doorbell", daemon=True)
        self._thread.start()
        return True

    def _receive(self, on_ring: Callable[[], None]) -> None:
        while True:
            try:
                self._socket.recv(64)
            except OSError:
                return
            if self._closed.is_set():
                return
            on_ring()

    def ring(self) -> None:
        """Wake every other process listening on this database."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return  # no folder: nobody listens
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            for name in names:
                path = self.folder / name
                if path == self._path or not name.endswith(".sock"):
                    continue
                try:
                    sender.sendto(b"!", str(path))
                except (ConnectionRefusedError, FileNotFoundError):
                    _remove(path)  # its process is gone
                except OSError:
                    pass  # its queue is full (it has been rung already), or it is going away

    def close(self) -> None:
        if self._socket is None:
            return
        self._closed.set()
        try:  # wake the receiving thread so that it sees the flag
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"", str(self._path))
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._socket.close()
        _remove(self._path)
        self._socket = self._path = None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
