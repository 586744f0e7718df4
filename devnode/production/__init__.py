"""The production-backed node: production's own ``Node`` and services, hosted by devnode.

``checkout`` finds the author's DataMgmt Node checkout, ``chain`` gives it a real
local EVM chain; the modules here import web3 and friends only when used.
"""
