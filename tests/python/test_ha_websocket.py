"""hass-client, a Home Assistant WebSocket client from PyPI, against the
real homebus binary's /api/websocket: connect, auth, get states,
subscribe, call a service. Run by scripts/test in its own virtualenv."""

import asyncio
import os
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

from hass_client import HomeAssistantClient
from hass_client.exceptions import AuthenticationFailed

ROOT = Path(__file__).resolve().parents[2]
HOMEBUS = os.environ.get("HOMEBUS_BIN", str(ROOT / "target" / "debug" / "homebus"))
KEY = "python-client-key"
DEADLINE = 20.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """The real binary on a free loopback port, with an API key and one dimmer."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="homebus-python-")
        config = Path(self.dir.name) / "homebus.toml"
        config.write_text(
            f'[server]\nlisten = "127.0.0.1:{self.port}"\nwebsocket_port = 0\n'
            f'database = ":memory:"\n\n[auth]\napi_keys = ["{KEY}"]\n\n'
            '[[unit]]\naddress = "KITCHEN"\nkind = "dimmer"\n'
        )
        self.log = open(Path(self.dir.name) / "homebus.log", "wb")
        self.child = subprocess.Popen(
            [HOMEBUS, "run", "-c", str(config)], cwd=self.dir.name,
            stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                if self.child.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("homebus did not start")
                time.sleep(0.05)

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    def command(self, address, body):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/units/{address}/command",
            data=body.encode(), method="POST",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).read()

    def stop(self):
        self.child.kill()
        self.child.wait()
        self.log.close()
        self.dir.cleanup()


async def until(what, check):
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class HassClientTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub()

    @classmethod
    def tearDownClass(cls):
        cls.hub.stop()

    async def test_connect_auth_get_states_subscribe_and_call_a_service(self):
        # Entering the client connects, authenticates and starts its listener.
        async with HomeAssistantClient(self.hub.url, KEY) as client:
            self.assertEqual(client.version, "2025.1.0")
            states = await client.get_states()
            kitchen = next(s for s in states if s["entity_id"] == "light.kitchen")
            self.assertEqual(kitchen["state"], "unknown")
            self.assertIn("id", kitchen["context"])

            events = []
            await client.subscribe_events(events.append, "state_changed")
            self.hub.command("KITCHEN", '{"command":"on"}')
            await until("the state_changed event", lambda: events)
            self.assertEqual(events[0]["data"]["new_state"]["state"], "on")

            result = await client.call_service(
                "light", "turn_on", {"brightness_pct": 40}, {"entity_id": "light.kitchen"}
            )
            self.assertIn("id", result["context"])
            await until(
                "the service call's change",
                lambda: any(e["data"]["new_state"]["attributes"].get("value") == 40 for e in events),
            )
            config = await client.get_config()
            self.assertEqual(config["state"], "RUNNING")

    async def test_a_wrong_token_fails_authentication(self):
        client = HomeAssistantClient(self.hub.url, "wrong")
        with self.assertRaises(AuthenticationFailed):
            await client.connect()
        await client.disconnect()


if __name__ == "__main__":
    unittest.main()
