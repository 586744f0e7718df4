"""node.cipher_suite, made on first read, behaves for plugins as production's plain attribute does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import HostHarness, write_plugin

Harness = Callable[..., HostHarness]

WRAPPING_PLUGIN = """
    class Keyed_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.wrapper = Wrapper()
            node.cipher_suite = self.wrapper  # before anything read node.cipher_suite

        def initialize(self):
            self.node.cipher_suite = self.wrapper  # set again: still the plugin's

        def shutdown(self):
            pass


    class Wrapper:
        def encrypt(self, data):
            return b"wrapped"
"""


def test_a_cipher_suite_set_twice_before_any_read_stays_the_plugins(harness: Harness, plugin_dir: Path) -> None:
    h = harness().start()
    original = h.node.key_manager.get_current_cipher()
    write_plugin(plugin_dir, "keyed_plugin", WRAPPING_PLUGIN)
    assert h.run(h.host.load("keyed_plugin"))
    assert type(h.node.cipher_suite).__name__ == "Wrapper"
    assert h.node.encrypt_data("x") == "wrapped"
    assert h.run(h.host.unload("keyed_plugin"))
    assert h.node.cipher_suite is original
    assert h.node.decrypt_data(h.node.encrypt_data("back")) == "back"
