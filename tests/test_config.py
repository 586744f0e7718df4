"""Node configuration: flags > environment > .env > defaults, production's variable names, errors that say where."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_env
from devnode.cli import main
from devnode.config import ConfigError, NodeConfig, load_config

# Every variable UPSTREAM.md lists for the production node, as a developer's .env would have them.
PRODUCTION_ENV = """\
# DataMgmt Node configuration
KEY_MASTER_PASSWORD=correct-horse-battery-staple
BLOCKCHAIN_TYPE=evm
BLOCKCHAIN_URL=https://sepolia.infura.io/v3/abc123
PRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318
NATIVE_TOKEN_ADDRESS=0x1111111111111111111111111111111111111111
DB_PATH=./data/nodedb
SQLITE_DB_PATH=./data/sqlite.db
CONTRACTS_DIR=./contracts
P2P_PORT=8000
INITIAL_PEERS=ws://10.0.0.2:8000, ws://10.0.0.3:8000 ,
NODE_ID=node42
NODE_SIGNATURE=sig-42
PLUGIN_DIR=./plugins
DATA_DIR=./data
INTERNAL_API_HOST=127.0.0.1
INTERNAL_API_PORT=8080
EXTERNAL_API_HOST=0.0.0.0
EXTERNAL_API_PORT=8081
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A node project folder: plugins/ beside a .env."""
    folder = tmp_path / "project"
    (folder / "plugins").mkdir(parents=True)
    return folder


def write_env(folder: Path, text: str) -> Path:
    path = folder / ".env"
    path.write_text(text)
    return path


# -- precedence -------------------------------------------------------------------------
def test_defaults_when_nothing_is_configured(project: Path) -> None:
    config = load_config(environ={}, cwd=project)
    assert config.node_id == "node1"
    assert config.plugin_dir == str(project / "plugins")
    assert config.data_dir == str(project / "data")
    assert config.initial_peers == []
    # production's defaults (main.py load_config)
    assert config.p2p_port == 8000 and config.blockchain_type == "evm"
    assert config.native_token_address == "0x" + "0" * 40
    assert config.sqlite_db_path == str(project / "data" / "sqlite.db")
    assert config.source_of("node_id") == "default"


def test_flags_beat_environment_beat_env_file_beat_defaults(project: Path) -> None:
    write_env(project, "NODE_ID=from-dotenv\nNODE_SIGNATURE=sig-dotenv\nP2P_PORT=7001\nBLOCKCHAIN_TYPE=dotenv-chain\n")
    environ = {"NODE_ID": "from-environ", "NODE_SIGNATURE": "sig-environ", "P2P_PORT": "7002"}
    config = load_config({"node_id": "from-flag"}, environ=environ, cwd=project)
    assert config.node_id == "from-flag" and config.source_of("node_id") == "--node-id"
    assert config.node_signature == "sig-environ"
    assert config.source_of("node_signature") == "environment variable NODE_SIGNATURE"
    assert config.p2p_port == 7002
    assert config.blockchain_type == "dotenv-chain" and config.source_of("blockchain_type").startswith(".env (")
    assert config.blockchain_url == NodeConfig().blockchain_url and config.source_of("blockchain_url") == "default"


def test_flags_set_to_none_do_not_override(project: Path) -> None:
    config = load_config({"node_id": None}, environ={"NODE_ID": "from-environ"}, cwd=project)
    assert config.node_id == "from-environ"


def test_the_env_file_is_only_read_from_the_working_directory_by_default(project: Path, tmp_path: Path) -> None:
    write_env(project, "NODE_ID=from-dotenv\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "plugins").mkdir(parents=True)
    assert load_config(environ={}, cwd=elsewhere).node_id == "node1"
    assert load_config(env_file=project / ".env", environ={}, cwd=elsewhere).node_id == "from-dotenv"


# -- a production .env as it is --------------------------------------------------------------
def test_production_env_file_works_as_it_is(project: Path) -> None:
    write_env(project, PRODUCTION_ENV)
    config = load_config(environ={}, cwd=project)
    assert config.blockchain_type == "evm"
    assert config.blockchain_url == "https://sepolia.infura.io/v3/abc123"
    assert config.private_key.startswith("0x4c08")
    assert config.native_token_address == "0x" + "1" * 40
    assert config.p2p_port == 8000
    assert config.initial_peers == ["ws://10.0.0.2:8000", "ws://10.0.0.3:8000"]
    assert config.node_id == "node42" and config.node_signature == "sig-42"
    assert config.plugin_dir == str(project / "plugins")
    assert config.data_dir == str(project / "data")
    assert config.db_path == "./data/nodedb" and config.sqlite_db_path == "./data/sqlite.db"
    # variables devnode has no use for are ignored, not errors and not attributes
    for ignored in ("key_master_password", "contracts_dir", "internal_api_host", "external_api_port"):
        assert not hasattr(config, ignored)


def test_config_has_every_production_field() -> None:
    fields = {"blockchain_type", "blockchain_url", "private_key", "native_token_address", "db_path",
              "sqlite_db_path", "p2p_port", "plugin_dir", "node_id", "node_signature", "initial_peers", "data_dir"}
    config = NodeConfig()
    assert fields <= set(vars(config))
    assert isinstance(config.initial_peers, list)


@pytest.mark.parametrize("text, peers", [
    ("peer1,peer2,peer3", ["peer1", "peer2", "peer3"]),
    (" alice , bob ", ["alice", "bob"]),
    ("", []),
    (",,", []),
    ("ws://h:1", ["ws://h:1"]),
])
def test_initial_peers_is_a_comma_separated_list(project: Path, text: str, peers: list[str]) -> None:
    assert load_config(environ={"INITIAL_PEERS": text}, cwd=project).initial_peers == peers


# -- relative paths --------------------------------------------------------------------------
def test_relative_dirs_in_an_env_file_resolve_against_its_folder(project: Path, tmp_path: Path) -> None:
    write_env(project, "PLUGIN_DIR=./plugins\nDATA_DIR=state/data\n")
    elsewhere = tmp_path / "run-from-here"
    elsewhere.mkdir()
    config = load_config(env_file=project / ".env", environ={}, cwd=elsewhere)
    assert config.plugin_dir == str(project / "plugins")
    assert config.data_dir == str(project / "state" / "data")


def test_relative_dirs_from_flags_and_environment_resolve_against_the_working_directory(
    project: Path, tmp_path: Path
) -> None:
    write_env(project, "PLUGIN_DIR=./plugins\nDATA_DIR=./data\n")
    here = tmp_path / "here"
    (here / "mine").mkdir(parents=True)
    (here / "theirs").mkdir(parents=True)
    from_flags = load_config({"plugin_dir": "mine", "data_dir": "d1"}, env_file=project / ".env", environ={}, cwd=here)
    assert from_flags.plugin_dir == str(here / "mine") and from_flags.data_dir == str(here / "d1")
    from_environ = load_config(env_file=project / ".env", environ={"PLUGIN_DIR": "theirs", "DATA_DIR": "d2"}, cwd=here)
    assert from_environ.plugin_dir == str(here / "theirs") and from_environ.data_dir == str(here / "d2")


def test_absolute_plugin_dir_is_kept(project: Path, tmp_path: Path) -> None:
    absolute = tmp_path / "opt" / "plugins"
    absolute.mkdir(parents=True)
    write_env(project, f"PLUGIN_DIR={absolute}\n")
    assert load_config(environ={}, cwd=project).plugin_dir == str(absolute)


# -- errors name the variable, the value and where it came from --------------------------------------
def test_missing_plugin_dir_from_env_file(project: Path) -> None:
    env = write_env(project, "PLUGIN_DIR=./plugnis\n")
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, cwd=project)
    message = str(info.value)
    assert message.startswith("PLUGIN_DIR=")
    assert "plugnis" in message and str(env) in message and "does not exist" in message


def test_missing_plugin_dir_from_flag(project: Path) -> None:
    with pytest.raises(ConfigError, match=r'PLUGIN_DIR=".*nowhere" \(from --plugin-dir\) does not exist'):
        load_config({"plugin_dir": "nowhere"}, environ={}, cwd=project)


def test_plugin_dir_that_is_a_file(project: Path) -> None:
    (project / "plugins.py").write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(environ={"PLUGIN_DIR": "plugins.py"}, cwd=project)
    message = str(info.value)
    assert "plugins.py" in message and "environment variable PLUGIN_DIR" in message
    assert "is not a directory" in message


@pytest.mark.parametrize("value, problem", [("eighty", "is not a port number"), ("70000", "out of range"),
                                            ("0", "out of range"), ("-1", "out of range")])
def test_bad_p2p_port_from_env_file(project: Path, value: str, problem: str) -> None:
    env = write_env(project, f"P2P_PORT={value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, cwd=project)
    message = str(info.value)
    assert message.startswith("P2P_PORT=") and value in message and str(env) in message
    assert problem in message and "1-65535" in message


def test_bad_p2p_port_from_environment(project: Path) -> None:
    with pytest.raises(ConfigError, match=r'P2P_PORT="8o8o" \(from environment variable P2P_PORT\)'):
        load_config(environ={"P2P_PORT": "8o8o"}, cwd=project)


def test_missing_env_file(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env_file="missing.env", environ={}, cwd=project)
    message = str(info.value)
    assert "--env-file" in message and '"missing.env"' in message and "does not exist" in message


def test_empty_node_id(project: Path) -> None:
    with pytest.raises(ConfigError, match=r'NODE_ID="" \(from environment variable NODE_ID\)'):
        load_config(environ={"NODE_ID": ""}, cwd=project)


# -- the same errors through the CLI: one line on stderr, exit 2 -------------------------------------------
def test_cli_with_a_bad_env_value_exits_2_with_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = write_env(project, "P2P_PORT=abc\n")
    code = main(["run", str(project / "plugins"), "--env-file", str(env), "--data-dir", str(project / "data")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("devnode: error: P2P_PORT=\"abc\"") and str(env) in err
    assert not (project / "data").exists()  # failed before touching anything


def test_cli_check_with_missing_env_file_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(project / "plugins"), "--env-file", str(project / "nope.env")])
    _, err = capsys.readouterr()
    assert code == 2 and "nope.env" in err and err.count("\n") == 1


def test_cli_subprocess_reads_the_env_file_in_its_working_directory(project: Path) -> None:
    write_env(project, "PLUGIN_DIR=./not-there\n")
    proc = subprocess.run([sys.executable, "-m", "devnode", "run", "--no-watch"], cwd=project, env=clean_env(),
                          input="", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert "PLUGIN_DIR=" in lines[0] and "not-there" in lines[0] and str(project / ".env") in lines[0]
    assert "Traceback" not in proc.stderr
