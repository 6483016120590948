"""An ingest worker reads whole request frames however the socket delivers their bytes."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from oracle_monitor.receiver.worker_process import REQUEST, _FrameReader


def frame(request_id: int, encoding: int, body: bytes) -> bytes:
    return REQUEST.pack(request_id, encoding, len(body)) + body


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, worker = socket.socketpair()
    yield server, worker
    server.close()
    worker.close()


def test_nothing_waiting_is_none_without_blocking(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    _, worker = pair
    assert _FrameReader(worker).next(block=False) is None


def test_frames_back_to_back_and_an_empty_body(pair: tuple[socket.socket, socket.socket]) -> None:
    server, worker = pair
    server.sendall(frame(1, 0, b"first") + frame(2, 1, b"") + frame(3, 0, b"third"))
    reader = _FrameReader(worker)
    assert reader.next(block=True) == (1, 0, b"first")
    assert reader.next(block=False) == (2, 1, b"")
    assert reader.next(block=False) == (3, 0, b"third")
    assert reader.next(block=False) is None


def test_a_frame_sent_in_pieces_is_read_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    server, worker = pair
    body = bytes(range(256)) * 4096  # 1 MiB: more than a socket buffer holds
    data = frame(7, 0, body)
    cuts = [0, 5, REQUEST.size + 3, 300_000, len(data)]

    def send_slowly() -> None:
        for start, end in itertools.pairwise(cuts):
            server.sendall(data[start:end])
            time.sleep(0.02)

    sender = threading.Thread(target=send_slowly)
    sender.start()
    try:
        assert _FrameReader(worker).next(block=True) == (7, 0, body)
    finally:
        sender.join()


@pytest.mark.parametrize("sent", [b"", REQUEST.pack(9, 0, 100)[:5], frame(9, 0, bytes(100))[:-1]])
def test_the_stream_ending_mid_frame_is_the_end(
    pair: tuple[socket.socket, socket.socket], sent: bytes
) -> None:
    server, worker = pair
    server.sendall(sent)
    server.shutdown(socket.SHUT_WR)
    with pytest.raises(EOFError):
        _FrameReader(worker).next(block=True)
