"""The ``tinyfish-mcp`` command: flags and errors, --toolsets, and --sandbox end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

import pytest
from _mcp import INITIALIZE, ProgressLog, result_json, stdio_server
from _servers import clean_env

from tinyfish_mcp import __version__
from tinyfish_mcp.cli import main


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = clean_env()
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tinyfish_mcp", *args],
        env={**clean, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--toolsets", "agent,nope"], {}, "TINYFISH_MCP_TOOLSETS / --toolsets: unknown toolset(s) nope"),
        ([], {"TINYFISH_MCP_PORT": "eighty"}, "TINYFISH_MCP_PORT / --port: Input should be a valid integer"),
        ([], {"TINYFISH_MCP_CALL_WINDOW": "0"}, "TINYFISH_MCP_CALL_WINDOW: Input should be greater than 0"),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
        (["--log-level", "loud"], {}, "invalid choice: 'LOUD'"),
        (["http", "--port", "x"], {}, "argument --port: invalid int value: 'x'"),
        (["http", "--auth", "magic"], {}, "argument --auth: invalid choice: 'magic'"),
    ],
)
def test_bad_flags_and_settings_are_one_line_and_exit_2(
    args: list[str],
    env: dict[str, str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors exit; settings errors return
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err


def test_bad_setting_from_the_command_line_has_no_traceback() -> None:
    done = _cli(env={"TINYFISH_MCP_LOG_LEVEL": "CHATTY"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("tinyfish-mcp: invalid setting: TINYFISH_MCP_LOG_LEVEL / --log-level")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["http", "--auth", "none", "--host", "0.0.0.0"],  # noqa: S104 - the refusal under test
            {},
            "Refusing to serve on 0.0.0.0 without authentication",
        ),
        (
            ["http", "--auth", "oauth", "--port", "0"],
            {},
            "set TINYFISH_MCP_SECRET to at least 32 random characters",
        ),
        (["http", "--auth", "jwt", "--port", "0"], {}, "TINYFISH_MCP_JWT_ISSUER"),
    ],
)
def test_unsafe_hosting_settings_are_refused_in_one_line(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    done = _cli(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_version() -> None:
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"tinyfish-mcp {__version__}"


async def test_toolsets_flag_overrides_the_environment(emulator: Any) -> None:
    env = {"TINYFISH_MCP_TOOLSETS": "agent"}
    async with stdio_server(emulator, env=env, args=["stdio", "--toolsets", "runs"]) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == {"get_run", "get_steps", "list_runs", "cancel_run", "batch_status", "batch_cancel"}


async def test_sandbox_runs_with_no_key_and_says_so_on_stderr(emulator: Any) -> None:
    with tempfile.TemporaryFile(mode="w+") as stderr:
        async with stdio_server(None, api_key=None, args=["--sandbox"], stderr=stderr) as client:
            log = ProgressLog()
            result = await client.call_tool(
                "run_web_automation",
                {"url": "example.com", "goal": "Read the page title"},
                progress_callback=log,
            )
            data = result_json(result)
            listed = result_json(await client.call_tool("list_runs", {}))
        stderr.seek(0)
        log_text = stderr.read()
    assert data["status"] == "COMPLETED" and data["result"]
    assert [row["run_id"] for row in listed["runs"]] == [data["run_id"]]
    assert log.messages[0] == f"Run {data['run_id']} started"
    assert "SANDBOX" in log_text
    # The sandbox runs its own emulator: the test emulator saw nothing.
    assert emulator.requests() == []
    # Logs never show a key, not even the sandbox's built-in one.
    assert "sk-tinyfish-emulator" not in log_text


def test_a_client_that_hangs_up_ends_the_server_quietly(emulator: Any) -> None:
    clean = clean_env()
    env = {**clean, "TINYFISH_API_KEY": emulator.api_key, "TINYFISH_BASE_URL": emulator.base_url}
    with tempfile.TemporaryFile("w+") as errlog:
        server = subprocess.Popen(
            [sys.executable, "-m", "tinyfish_mcp"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            text=True,
        )
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(json.dumps(INITIALIZE) + "\n")
        server.stdin.flush()
        assert '"id":1' in server.stdout.readline()
        server.stdout.close()  # the client goes away without a word...
        server.stdin.write('{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n')  # ...mid-conversation
        server.stdin.flush()
        server.stdin.close()
        assert server.wait(timeout=30) == 0
        errlog.seek(0)
        assert "Traceback" not in errlog.read()


async def test_sandbox_serves_browserbase_from_the_emulator_without_a_browserbase_key(emulator: Any) -> None:
    env = {"TINYFISH_MCP_BROWSER_PROVIDER": "browserbase", "TINYFISH_MCP_SEARCH_PROVIDER": "browserbase"}
    async with stdio_server(
        None, api_key=None, env=env, args=["--sandbox", "--toolsets", "hosted"]
    ) as client:
        created = result_json(await client.call_tool("create_browser_session", {"timeout_seconds": 60}))
        listed = result_json(await client.call_tool("list_browser_sessions", {"limit": 10, "page": 1}))
        found = result_json(await client.call_tool("search", {"query": "python tutorial"}))
        closed = result_json(
            await client.call_tool("close_browser_session", {"session_id": created["session_id"]})
        )
    assert created["session_id"] in [s["session_id"] for s in listed["sessions"]]
    assert closed["session_id"] == created["session_id"]
    assert "results" in found
    assert emulator.requests() == []


def test_hosted_is_a_preset_that_stands_alone() -> None:
    from tinyfish_mcp.settings import HOSTED_TOOLSETS, Settings

    hosted = Settings(mcp_toolsets="Hosted")
    assert (hosted.mcp_surface, hosted.mcp_toolsets) == ("hosted", HOSTED_TOOLSETS)
    with pytest.raises(ValueError, match="stands alone"):
        Settings(mcp_toolsets="hosted,research")
