#!/usr/bin/env python3
"""Run the Autobahn TestSuite against relays-websocket, in parallel shards (.ci/autobahn.sh).

Theory of operation. ``wstest`` (Python 2.7) runs the cases of one spec one after another,
and each case of 12.* and 13.* (permessage-deflate) echoes 1000 messages of up to 128 KiB,
one at a time; most of that time is ``wstest``'s own CPU (zlib at its default level, SHA-1
of every message sent and received). One ``wstest`` per mode would take over half an hour,
so the chosen cases are dealt into shards of about equal estimated cost, and every shard
runs at once as a pair of processes: in server mode a relays echo server
(``echo_server.py``) and ``wstest -m fuzzingclient``; in client mode ``wstest -m
fuzzingserver`` and the relays client (``echo_client.py``). Each pair mostly waits on
itself (a ping-pong), so a few pairs per core keep the cores busy.

What runs: by default (CI) every case of 1.* to 10.* (there is no 11.*) and the
deterministic subset of 12.* and 13.* in :data:`CI_COMPRESSION_CASES`; ``--full`` runs every
case. Every report is checked (:mod:`check_report`): a case that is not OK, NON-STRICT or
INFORMATIONAL, closed uncleanly, or has no result at all fails the run.

Usage: run.py --python2 PY2 --site DIR [--mode server|client|both] [--full] [--shards N]
[--cases ID ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import check_report

HERE = Path(__file__).resolve().parent

#: Which cases of 12.* and 13.* CI runs (``--full`` runs all 216). Each of the twelve
#: groups (12.1-12.5: five kinds of data with the default offer; 13.1-13.7: seven
#: combinations of window bits and context takeover) runs its cases 1-5 (1000 messages of
#: 16 B to 4 KiB), 11 (8 KiB messages in 256-byte fragments: a compressed message across
#: frames) and 9 (64 KiB messages). The left-out cases repeat these with larger messages
#: and other fragment sizes; they cost 40 times as much CPU, mostly wstest's own.
CI_COMPRESSION_CASES = (1, 2, 3, 4, 5, 9, 11)

#: Prints, for every case the installed suite has, its id and the cost hints of a
#: permessage-deflate case (message length, count, fragment size), as JSON (Python 2).
LIST_CASES = """
import json, site, sys
site.addsitedir(sys.argv[1])
from autobahntestsuite.case import Cases, CaseBasename
from autobahntestsuite.caseset import CaseSet
names = CaseSet("fuzzing", CaseBasename, Cases, {}, {})
rows = []
for case in Cases:
    rows.append([names.caseClasstoId(case), getattr(case, "LEN", 0), getattr(case, "COUNT", 0),
                 getattr(case, "AUTOFRAGSIZE", 0)])
print(json.dumps(rows))
"""

#: Estimated seconds of CPU a case costs (both processes), to balance the shards: a fixed
#: part per case and per message, and the bytes of a compression case (measured: 12.1.*
#: cost 46 s of CPU for 0.9 GB and 18 000 messages). Cases 9.* send up to 16 MiB.
SECONDS_PER_CASE = 0.3
SECONDS_PER_MESSAGE = 0.0008
SECONDS_PER_BYTE = 1 / 25e6
SECONDS_PER_FRAME = 0.00002
#: Seconds wstest waits for the answer to its close frame (its option; 1 s by default). On a
#: loaded machine a relays process may not run for a second, and the case is then reported
#: UNCLEAN (seen: 9.2.3 at a load of 17 on 2 cores); a peer that never answers still fails.
CLOSE_HANDSHAKE_TIMEOUT = 10

HEAVY_CASES = {"9.1": 6.0, "9.2": 3.0, "9.3": 3.0, "9.4": 3.0, "9.5": 2.0, "9.6": 2.0}


@dataclass
class Case:
    id: str
    length: int = 0
    count: int = 0
    fragment: int = 0

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.id.split("."))

    @property
    def cost(self) -> float:
        if self.count:
            frames = self.count * (-(-self.length // self.fragment) if self.fragment else 1)
            return (
                SECONDS_PER_CASE
                + self.count * SECONDS_PER_MESSAGE
                + self.count * self.length * SECONDS_PER_BYTE
                + frames * SECONDS_PER_FRAME
            )
        return HEAVY_CASES.get(self.id.rsplit(".", 1)[0], SECONDS_PER_CASE)


@dataclass
class Shard:
    mode: str
    index: int
    cases: list[Case] = field(default_factory=list)
    cost: float = 0.0
    directory: Path = Path()
    error: str | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.mode}{self.index}"

    @property
    def report(self) -> Path:
        return self.directory / "report" / "index.json"


def list_cases(python2: str, site_dir: str) -> list[Case]:
    done = subprocess.run(
        [python2, "-c", LIST_CASES, site_dir], capture_output=True, text=True, check=True
    )
    return [Case(*row) for row in json.loads(done.stdout.splitlines()[-1])]


def choose(cases: list[Case], full: bool, wanted: list[str]) -> list[Case]:
    """The cases of a CI run (or every case, *full*), only those *wanted* if any are."""
    return [
        case
        for case in cases
        if (full or case.numbers[0] < 12 or case.numbers[-1] in CI_COMPRESSION_CASES)
        and (not wanted or any(_matches(case.id, pattern) for pattern in wanted))
    ]


def _matches(case_id: str, wanted: str) -> bool:
    """``9.4.1`` matches itself, ``9.4.*`` (or ``9.4``) every case under 9.4."""
    prefix = wanted.removesuffix(".*").removesuffix("*")
    return case_id == prefix or case_id.startswith(prefix.rstrip(".") + ".")


def deal(mode: str, cases: list[Case], count: int, work: Path) -> list[Shard]:
    """*cases* into *count* shards of about equal cost: the costliest first, each to the
    shard with the least so far. A shard runs its cases in the suite's order."""
    shards = [Shard(mode, index + 1) for index in range(min(count, len(cases)))]
    for case in sorted(cases, key=lambda case: -case.cost):
        cheapest = min(shards, key=lambda shard: shard.cost)
        cheapest.cases.append(case)
        cheapest.cost += case.cost
    for shard in shards:
        shard.cases.sort(key=lambda case: case.numbers)
        shard.directory = work / shard.name
        shard.directory.mkdir(parents=True)
    return shards


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"it exited ({process.returncode}) before listening") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {timeout} s") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Runner:
    """Runs shards (one thread each) and owns every process they start."""

    def __init__(self, wstest: list[str], deadline: float) -> None:
        self.wstest = wstest
        self.deadline = deadline
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, command: list[str], shard: Shard, log: str) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._stopped:
                raise RuntimeError("stopped")
            process = subprocess.Popen(
                command,
                cwd=shard.directory,
                stdout=self._log(shard, log),
                stderr=subprocess.STDOUT,
            )
            self._processes.add(process)
            return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        stop(process)
        with self._lock:
            self._processes.discard(process)

    def stop_all(self) -> None:
        """Stop every process (the run was interrupted): the shards' threads then end."""
        with self._lock:
            self._stopped = True
            processes = list(self._processes)
        for process in processes:
            if process.poll() is None:
                process.terminate()

    def _remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())

    def _spec(self, shard: Shard, extra: dict[str, object]) -> Path:
        spec = shard.directory / "spec.json"
        content = {
            "outdir": str(shard.directory / "report"),
            "cases": [case.id for case in shard.cases],
            "exclude-cases": [],
            "exclude-agent-cases": {},
            "options": {"closeHandshakeTimeout": CLOSE_HANDSHAKE_TIMEOUT},
            **extra,
        }
        spec.write_text(json.dumps(content))
        return spec

    def _log(self, shard: Shard, name: str) -> int:
        return os.open(shard.directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

    def run(self, shard: Shard) -> None:
        started = time.monotonic()
        try:
            if shard.mode == "server":
                self._server_mode(shard)
            else:
                self._client_mode(shard)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            shard.error = str(error)
        shard.seconds = time.monotonic() - started

    def _server_mode(self, shard: Shard) -> None:
        port = free_port()
        server = self.start(
            [sys.executable, str(HERE / "echo_server.py"), str(port)], shard, "relays.log"
        )
        try:
            wait_port(port, server)
            spec = self._spec(
                shard, {"servers": [{"agent": "relays", "url": f"ws://127.0.0.1:{port}"}]}
            )
            wstest = self.start(
                [*self.wstest, "-m", "fuzzingclient", "-s", str(spec)], shard, "wstest.log"
            )
            try:
                wstest.wait(self._remaining())
            finally:
                self.stop(wstest)
        finally:
            self.stop(server)

    def _client_mode(self, shard: Shard) -> None:
        port = free_port()
        spec = self._spec(shard, {"url": f"ws://127.0.0.1:{port}"})
        wstest = self.start(
            [*self.wstest, "-m", "fuzzingserver", "-s", str(spec), "--webport=0"],
            shard,
            "wstest.log",
        )
        try:
            wait_port(port, wstest)
            client = self.start(
                [sys.executable, str(HERE / "echo_client.py"), f"ws://127.0.0.1:{port}"],
                shard,
                "relays.log",
            )
            try:
                client.wait(self._remaining())
            finally:
                self.stop(client)
        finally:
            self.stop(wstest)


#: Lines of each log shown for a shard that wrote no report.
LOG_TAIL_LINES = 20


def print_log_tails(shard: Shard) -> None:
    """The last lines of a shard's logs (relays' side and wstest's), for a shard that
    wrote no report: without them a CI run says only "no result" for each case."""
    for name in ("relays.log", "wstest.log"):
        path = shard.directory / name
        try:
            lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        except OSError as error:
            lines = [f"(unreadable: {error})"]
        print(f"    {shard.name} {name}, last {len(lines)} lines:")
        for line in lines:
            print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python2", required=True, help="the Python 2.7 that runs wstest")
    parser.add_argument("--site", required=True, help="where autobahntestsuite is installed")
    parser.add_argument("--mode", choices=("server", "client", "both"), default="both")
    parser.add_argument("--full", action="store_true", help="every case of 12.* and 13.*")
    parser.add_argument(
        "--cases", nargs="+", default=[], help="only these of the chosen cases (9.4.1, 12.1.*)"
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=max(2, os.cpu_count() or 1),
        help="wstest runs per mode, all at once (default: the number of CPUs, at least 2)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds for it all (default: 1800, or 7200 with --full); wstest writes its "
        "reports only at the end, so a run cut short reports no result",
    )
    parser.add_argument("--keep", type=Path, help="copy the shards' reports and logs here")
    options = parser.parse_args()
    if options.timeout is None:
        # Measured: the full 12/13 set used 859 s of CPU in 30 min at a load of 37 on 2
        # cores without finishing; the CI set fits well within 30 min at a load of 24.
        options.timeout = 7200.0 if options.full else 1800.0

    wstest = [
        options.python2,
        "-c",
        f"import site, sys; site.addsitedir({options.site!r}); sys.argv = ['wstest'] + "
        "sys.argv[1:]; from autobahntestsuite.wstest import run; run()",
    ]
    cases = choose(list_cases(options.python2, options.site), options.full, options.cases)
    if not cases:
        print("autobahn: no case matches", options.cases, file=sys.stderr)
        return 2
    modes = ["server", "client"] if options.mode == "both" else [options.mode]
    work = Path(tempfile.mkdtemp(prefix="relays-autobahn-"))
    try:
        shards = [shard for mode in modes for shard in deal(mode, cases, options.shards, work)]
        print(
            f"autobahn: {len(cases)} cases, mode(s) {' and '.join(modes)}, "
            f"{len(shards)} shards at once",
            flush=True,
        )
        started = time.monotonic()
        runner = Runner(wstest, started + options.timeout)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: runner.stop_all())
        threads = [threading.Thread(target=runner.run, args=(shard,)) for shard in shards]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime
        print(f"autobahn: ran in {wall:.0f} s, {cpu:.0f} s of CPU (wstest and relays)")
        for shard in shards:
            state = f": {shard.error}" if shard.error else ""
            print(f"  {shard.name}: {len(shard.cases)} cases in {shard.seconds:.0f} s{state}")
            if not shard.report.exists():  # say why, as the work folder is removed
                print_log_tails(shard)
        expected = {mode: [case.id for case in cases] for mode in modes}
        reports = {
            mode: [shard.report for shard in shards if shard.mode == mode] for mode in modes
        }
        failed = check_report.check(reports, expected)
        if options.keep is not None:
            shutil.copytree(work, options.keep, dirs_exist_ok=True)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
