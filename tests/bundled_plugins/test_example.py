"""The basic example plugin, tested with devnode's pytest fixtures: a model for plugin authors."""

from devnode import EventType


def test_logs_every_share(devnode):
    devnode.load("example_plugin")

    devnode.share('{"report": 42}', "peer1")

    shared = devnode.events.last(EventType.DATA_SHARED)
    assert shared.handled_by == ["example_plugin"]
    assert any("Data shared with peer1" in m for m in devnode.log_messages("example_plugin"))


def test_unsubscribes_on_shutdown(devnode):
    devnode.load("example_plugin")
    devnode.unload("example_plugin")

    event = devnode.publish(EventType.DATA_SHARED, {"data_hash": "ab" * 32, "recipient": "peer1"})

    assert event.handled_by == []


async def test_async_tests_run_on_the_node_loop(devnode):
    await devnode.aload("example_plugin")

    event = await devnode.apublish(EventType.DATA_SHARED, {"data_hash": "cd" * 32, "recipient": "peer2"})

    assert event.handled_by == ["example_plugin"]
