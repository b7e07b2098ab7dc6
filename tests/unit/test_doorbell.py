"""The doorbell between processes sharing a SQLite file (runtime/doorbell.py): a ring reaches every
other listener, never the ringer itself; sockets of dead processes are cleared away; a folder too
deep for a Unix socket leaves the poll to do the work."""
from __future__ import annotations

import socket
import threading

from graphsync.runtime.doorbell import Doorbell


def listening(folder) -> tuple[Doorbell, threading.Event]:
    bell, rung = Doorbell(folder), threading.Event()
    assert bell.listen(rung.set)
    return bell, rung


def test_a_ring_wakes_the_other_listeners_and_not_the_ringer(tmp_path):
    folder = tmp_path / "db.wake"
    (a, a_rung), (b, b_rung) = listening(folder), listening(folder)
    try:
        a.ring()
        assert b_rung.wait(5)
        assert not a_rung.wait(0.2)
        b_rung.clear()
        Doorbell(folder).ring()  # a process that runs no engine (serve --no-engine) rings too
        assert a_rung.wait(5) and b_rung.wait(5)
    finally:
        a.close()
        b.close()
    assert list(folder.iterdir()) == []  # each took its socket away


def test_a_dead_listeners_socket_is_removed_when_rung(tmp_path):
    folder = tmp_path / "db.wake"
    folder.mkdir()
    dead = folder / "0dead.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    left.bind(str(dead))
    left.close()  # a killed process leaves its socket file behind
    live, rung = listening(folder)
    try:
        Doorbell(folder).ring()
        assert rung.wait(5)
        assert not dead.exists()
    finally:
        live.close()


def test_a_folder_too_deep_for_a_socket_falls_back_to_the_poll(tmp_path):
    deep = tmp_path / ("d" * 120) / "db.wake"
    bell = Doorbell(deep)
    assert not bell.listen(lambda: None)
    bell.ring()  # nobody listens: nothing happens, nothing fails
    bell.close()


def test_no_file_database_has_no_doorbell():
    assert Doorbell.beside("") is None


def test_a_closed_doorbell_listens_again(tmp_path):
    """An app entered twice (a test client) stops its engine and starts it again."""
    folder = tmp_path / "db.wake"
    bell, rung = listening(folder)
    bell.close()
    assert bell.listen(rung.set)
    try:
        Doorbell(folder).ring()
        assert rung.wait(5)
    finally:
        bell.close()
