"""The circuits-style programs in examples/circuits/, run against real files,
processes and sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from relays.testing import Recorder

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "circuits"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"circuits_example_{name}", EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Notify uses inotify")
async def test_the_tailer_prints_the_file_then_what_is_appended(tmp_path: Path) -> None:
    tail = load_example("tail.py")
    log = tmp_path / "app.log"
    log.write_text("first\n")
    output = io.StringIO()
    app = tail.Tail(str(log), output=output)
    recorder = Recorder().register(app)
    async with app:
        await recorder.until("eof")
        await recorder.until("watching")
        with log.open("a") as appending:
            appending.write("second\n")
        await recorder.until("eof", 2)
    assert output.getvalue() == "first\nsecond\n"


async def test_the_supervisor_labels_output_and_restarts_failures_then_gives_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor = load_example("supervisor.py")
    python = sys.executable
    app = supervisor.Supervisor(
        {
            "good": [python, "-c", "print('hello'); print('bye')"],
            "bad": [python, "-c", "print('oops'); raise SystemExit(2)"],
        },
        restart_delay=0.01,
        max_restarts=2,
    )
    recorder = Recorder().register(app)
    async with app:
        [gave_up] = await recorder.until("gave_up")
    assert gave_up.args == ("bad", 2)
    assert app.restarts == {"good": 0, "bad": 2}
    assert [line for line in app.lines if line.startswith("good")] == ["good: hello", "good: bye"]
    assert [line for line in app.lines if line.startswith("bad")] == ["bad: oops"] * 3
    assert "bad failed 3 times (exit 2)" in capsys.readouterr().out


async def test_the_memo_server_speaks_its_line_protocol_over_tcp() -> None:
    memo = load_example("memo_server.py")
    app = memo.MemoServer(("127.0.0.1", 0))
    recorder = Recorder().register(app)
    async with app:
        [ready] = await recorder.until("ready")
        host, port = ready.args[1][:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"SET colour blue\r\nGET col")
        await writer.drain()
        writer.write(b"our\nGET shape\nQUIT\n")
        await writer.drain()
        replies = await asyncio.wait_for(reader.read(), 10)  # until the server closes
        writer.close()
        await writer.wait_closed()
    assert replies.splitlines() == [b"OK", b"blue", b"ERR no such key", b"BYE"]


async def test_the_memo_server_closes_on_a_line_over_its_limit() -> None:
    memo = load_example("memo_server.py")
    app = memo.MemoServer(("127.0.0.1", 0))
    recorder = Recorder().register(app)
    async with app:
        [ready] = await recorder.until("ready")
        host, port = ready.args[1][:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"SET big " + b"x" * 2000 + b"\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        await writer.wait_closed()
        [error] = await recorder.until("error")
        assert "max_line_length=1024" in str(error.args[1])


async def run_memo_client(port: int, *commands: str) -> tuple[int, list[str]]:
    """Run examples/circuits/memo_client.py as a user does; its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "memo_client.py"),
        str(port),
        *commands,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert not stderr, stderr.decode()
    assert process.returncode is not None
    return process.returncode, stdout.decode().splitlines()


async def test_the_memo_client_asks_one_command_at_a_time_until_the_server_hangs_up() -> None:
    memo = load_example("memo_server.py")
    app = memo.MemoServer(("127.0.0.1", 0))
    recorder = Recorder().register(app)
    async with app:
        [ready] = await recorder.until("ready")
        port = ready.args[1][1]
        status, output = await run_memo_client(
            port, "SET tea green", "GET tea", "GET coffee", "QUIT"
        )
    assert status == 0
    assert output == [
        f"connected to 127.0.0.1:{port}",
        "> SET tea green",
        "< OK",
        "> GET tea",
        "< green",
        "> GET coffee",
        "< ERR no such key",
        "> QUIT",
        "< BYE",
        "server closed the connection",
    ]


async def test_the_memo_client_exits_1_naming_a_server_it_cannot_reach() -> None:
    # A bound socket that does not listen: connecting to its port is refused, and
    # holding it keeps the port from being given to anyone else meanwhile.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        status, output = await run_memo_client(port, "GET tea")
    assert status == 1
    [line] = output
    assert line.startswith(f"cannot reach 127.0.0.1:{port}: ")


@pytest.mark.parametrize("source", ["pipe", "file"])
def test_the_stdin_filter_answers_each_line_then_stops(source: str, tmp_path: Path) -> None:
    text = b"hello\nworld\n"
    command = [sys.executable, str(EXAMPLES / "upper.py")]
    if source == "pipe":
        completed = subprocess.run(command, input=text, capture_output=True, timeout=60)
    else:
        (tmp_path / "input.txt").write_bytes(text)
        with (tmp_path / "input.txt").open("rb") as stdin:
            completed = subprocess.run(command, stdin=stdin, capture_output=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == b"HELLO\nWORLD\n"
