"""A small Debug Adapter Protocol client for tests: Content-Length framed JSON over a socket."""

from __future__ import annotations

import json
import socket
import time
from typing import Any


class DapClient:
    """Talks DAP to one adapter; ``request`` waits for its response, ``wait_event`` for an event."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.timeout = timeout
        self._seq = 0
        self._buffer = b""
        self.messages: list[dict[str, Any]] = []  # everything received, in order
        self._unread: list[dict[str, Any]] = []

    def close(self) -> None:
        self.sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        self._seq += 1
        body = json.dumps({"seq": self._seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        seq = self.send(command, **arguments)
        response = self._wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq, command)
        if not response.get("success"):
            raise AssertionError(f"{command} failed: {response.get('message')} {response.get('body')}")
        return response

    def response_to(self, seq: int, what: str) -> dict[str, Any]:
        return self._wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq, what)

    def wait_event(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        return self._wait(lambda m: m.get("type") == "event" and m.get("event") == name, f"event {name}", timeout)

    def _wait(self, match: Any, what: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, message in enumerate(self._unread):
                if match(message):
                    del self._unread[i]
                    return message
            if time.monotonic() > deadline:
                seen = [m.get("event") or m.get("command") for m in self.messages]
                raise AssertionError(f"no {what} within the deadline; received so far: {seen}")
            self._receive(deadline)

    def _receive(self, deadline: float) -> None:
        while b"\r\n\r\n" not in self._buffer:
            self._read(deadline)
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        while len(rest) < length:
            self._buffer = head + b"\r\n\r\n" + rest
            self._read(deadline)
            head, _, rest = self._buffer.partition(b"\r\n\r\n")
        message = json.loads(rest[:length])
        self._buffer = rest[length:]
        self.messages.append(message)
        self._unread.append(message)

    def _read(self, deadline: float) -> None:
        self.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            if time.monotonic() > deadline:
                raise AssertionError("the debug adapter sent nothing before the deadline") from None
            return
        if not chunk:
            raise AssertionError("the debug adapter closed the connection")
        self._buffer += chunk
