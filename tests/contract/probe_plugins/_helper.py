"""A helper module with no plugin class: production still tries to load it."""


def double(x):
    return 2 * x
