"""The metrics plugin counts every event (a subscribe_all handler and a background task) across reloads."""

from devnode import EventType


def test_counts_events_by_type(devnode):
    plugin = devnode.load("metrics_plugin")

    devnode.publish(EventType.HEALTH_UPDATE, {})
    devnode.publish(EventType.HEALTH_UPDATE, {})
    devnode.publish(EventType.ERROR, {"message": "boom"})

    assert plugin.counts == {"health.update": 2, "system.error": 1}


def test_counts_survive_a_reload(devnode):
    devnode.load("metrics_plugin")
    devnode.publish(EventType.HEALTH_UPDATE, {})

    plugin = devnode.reload("metrics_plugin")
    devnode.publish(EventType.HEALTH_UPDATE, {})

    assert plugin.counts["health.update"] == 2


def test_its_reporter_task_is_stopped_with_the_plugin(devnode):
    plugin = devnode.load("metrics_plugin")
    reporter = plugin._reporter
    assert not reporter.done()

    devnode.unload("metrics_plugin")

    assert reporter.cancelled()
