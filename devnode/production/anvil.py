"""Where devnode's local chain binary, anvil, comes from.

In order: ``$DEVNODE_ANVIL`` (a path to the binary), ``anvil`` on PATH (a Foundry
install), then devnode's own copy in its cache dir, which ``devnode setup-chain``
installs from the npm package ``@foundry-rs/anvil`` (one command, about 2 s;
Node.js's npm required). Nothing is installed behind the author's back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from devnode.errors import DevnodeError

ANVIL_VERSION = "1.7.1"
NPM_PACKAGE = f"@foundry-rs/anvil@{ANVIL_VERSION}"
ENV_VAR = "DEVNODE_ANVIL"
SETUP_HINT = "run `devnode setup-chain` (installs anvil with npm), install Foundry, or set DEVNODE_ANVIL"


class AnvilNotFound(DevnodeError):
    """No anvil binary where devnode looks; the message lists them and the one-command fix."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """devnode's copy of anvil lives here: $XDG_CACHE_HOME/devnode/anvil-VERSION (or ~/.cache/...)."""
    environ = os.environ if environ is None else environ
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "devnode" / f"anvil-{ANVIL_VERSION}"


def cached_anvil(environ: Mapping[str, str] | None = None) -> Path | None:
    """The anvil binary of devnode's npm install, if there is one."""
    # The npm package pulls a per-platform package, e.g. @foundry-rs/anvil-linux-amd64/bin/anvil.
    for candidate in sorted((cache_dir(environ) / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil*")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_anvil(environ: Mapping[str, str] | None = None) -> Path:
    """The anvil to run; AnvilNotFound says where devnode looked and how to get one."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        path = Path(environ[ENV_VAR]).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise AnvilNotFound(f'{ENV_VAR}="{environ[ENV_VAR]}" is not an executable file; point it at an anvil '
                            "binary or unset it")
    on_path = shutil.which("anvil", path=environ.get("PATH"))
    if on_path:
        return Path(on_path)
    cached = cached_anvil(environ)
    if cached is not None:
        return cached
    raise AnvilNotFound(f"no local chain: anvil is not in ${ENV_VAR}, on PATH or in {cache_dir(environ)}; {SETUP_HINT}")


def install_anvil(environ: Mapping[str, str] | None = None) -> Path:
    """Install ``@foundry-rs/anvil`` with npm into devnode's cache dir (idempotent); returns the binary."""
    existing = cached_anvil(environ)
    if existing is not None:
        return existing
    npm = shutil.which("npm")
    if npm is None:
        raise AnvilNotFound("devnode setup-chain needs npm (Node.js) to install anvil; install Node.js, or install "
                            "Foundry (https://getfoundry.sh) and put anvil on PATH")
    target = cache_dir(environ)
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(target), "--no-save", "--no-audit", "--no-fund", "--loglevel=error",
         NPM_PACKAGE],
        capture_output=True, text=True,
    )
    installed = cached_anvil(environ)
    if done.returncode != 0 or installed is None:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise AnvilNotFound(f"npm install {NPM_PACKAGE} into {target} failed (exit {done.returncode}): {detail[0]}")
    return installed
