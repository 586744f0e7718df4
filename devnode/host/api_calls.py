"""Calls in plugin source that only devnode's old stand-in understood, found without running them.

Earlier devnode versions taught signatures production does not have
(``transfer_tokens(from, to, amount, token)``, ``p2p_network.known_peers``,
``blockchain_interface.call_contract``). A call on a path the check never
runs would still fail in production, so ``devnode check`` reads the source:
pure functions over the syntax tree, one PluginProblem per call.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from devnode.host.diagnostics import PluginProblem
from devnode.host.imports import parse_source

TRANSFER_SIGNATURE = "transfer_tokens(token_address, from_address, to_address, amount)"
_OLD_TRANSFER_KEYWORDS = {"from_addr", "to_addr", "token"}


def old_api_calls(module_name: str, source: str, file: Path) -> list[PluginProblem]:
    """Every use of a removed or reordered stand-in API in ``source``, in line order."""
    tree = parse_source(source)
    if tree is None:
        return []
    problems = [
        PluginProblem(module_name, "check", error, str(file), node.lineno, node.col_offset + 1, hint, code)
        for node, code, error, hint in _findings(tree)
    ]
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def _findings(tree: ast.Module) -> Iterator[tuple[ast.expr, str, str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) == "transfer_tokens" and _old_transfer_order(node):
            args = [ast.unparse(a) for a in node.args]
            fixed = f"transfer_tokens({args[3]}, {args[0]}, {args[1]}, {args[2]})" if len(args) == 4 else TRANSFER_SIGNATURE
            yield (node, "old-transfer-order",
                   f"{ast.unparse(node)} passes the token last (devnode's old order from, to, amount, token); "
                   f"production's signature is {TRANSFER_SIGNATURE} (services/token_manager.py:42)",
                   f"call {fixed}")
        elif isinstance(node, ast.Attribute) and node.attr == "known_peers":
            yield (node, "no-known-peers",
                   f"{ast.unparse(node)}: production's P2PNetwork has no known_peers (network/p2p_network.py:58 keeps "
                   "them private)",
                   "use p2p_network.get_connected_peers(), a list of dicts with host, port, node_id, last_seen, "
                   "latency_ms, success_rate and healthy")
        elif isinstance(node, ast.Call) and _called(node) == "call_contract":
            yield (node, "no-call-contract",
                   f"{ast.unparse(node)}: production's blockchain interface has no call_contract "
                   "(blockchain/evm_blockchain_interface.py:640)",
                   "use blockchain_interface.call_contract_function(contract_address, function_name, [args...])")


def _called(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _old_transfer_order(call: ast.Call) -> bool:
    if any(k.arg in _OLD_TRANSFER_KEYWORDS for k in call.keywords):
        return True
    if len(call.args) != 4:
        return False
    first, last = (ast.unparse(call.args[i]).lower() for i in (0, 3))
    return _token_like(last) and not _token_like(first)


def _token_like(text: str) -> bool:
    return "token" in text or "native" in text
