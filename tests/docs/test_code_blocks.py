"""The meta-test of the docs: every code block of docs/ and of every README runs somewhere.

Each block found by docs_code_blocks.py must be covered in one of these ways, or the test
fails naming it (``path:line``):

- a ``literalinclude`` of a file a test runs: a program of docs/snippets/ (test_snippets.py),
  or the ``.out`` file beside one, which that test compares with what the program prints,
  a file of a snippet package that a test installs (test_snippets.PACKAGES), an example that a
  test under tests/ names, a test file (pytest runs it), or the source or pyproject.toml of one
  of our distributions (every test imports them);
- a doctest, which test_doctests_pass runs below;
- a Python block of a README, which tests/test_readme.py runs, every one of them;
- a shell transcript (``console``) every command of which is replayed by a test
  (test_transcripts.py, test_plugin_guide.py, the test named in ELSEWHERE), or is a line that
  CI runs as it is (.ci/run), or is in ALLOWLIST;
- a directory tree (``text``) that LAYOUTS maps to a folder, where each listed file exists.

A transcript whose output varies from run to run (times, ports, process ids) is compared by
its test with those parts masked in the page and in the output alike (tests/docs/served.py).
"""

from __future__ import annotations

import doctest
import re
from collections import Counter
from pathlib import Path

import docs_code_blocks
import pytest
import test_plugin_guide
import test_snippets
import test_transcripts
from docs_code_blocks import ROOT, Block, all_blocks

BLOCKS = all_blocks()

#: Console commands that no test runs, and why. Keep it short: each entry is a promise that a
#: reader can type the command and it works, which nothing checks.
ALLOWLIST = {
    # Serves the demo on the fixed port 8000 until Ctrl+C; `relays demo`, which it runs, is
    # tested on a free port by tests/plugins/http/test_cli.py (test_demo_serves_a_page_...).
    "python3 dev.py demo",
    # pytest arguments passed through: running the suite from inside itself would recurse, and
    # .ci/run runs `python3 dev.py test` (the same command without arguments).
    "python3 dev.py test tests/kernel -k dispatch -x",
    'python3 dev.py test -m "not integration"',
}

#: Blocks replayed or checked by a named test elsewhere: (page, start of first line) -> test.
ELSEWHERE = {
    ("docs/howto/wsgi.rst", "$ gunicorn --threads 8 hello_site:application"): (
        "tests/docs/test_snippets.py::test_gunicorn_serves_the_wsgi_module_as_the_howto_says"
    ),
    # The Debugger's stderr, abridged by hand (process ids and traceback frames left out):
    # every line shown is matched, in order, against what the program prints.
    ("docs/tutorial/07-debugger.rst", "<Registered[bob,*:registered] "): (
        "tests/docs/test_transcripts.py::test_abridged_stderr_is_what_the_program_prints"
    ),
    # A server that cannot listen, its message and exit status: relays demo on a taken port.
    ("docs/howto/deploy.rst", "$ relays demo --bind tcp://127.0.0.1:8000"): (
        "tests/plugins/http/test_bind_failure.py::test_the_command_line_exits_with_a_message"
    ),
    # The supervisor's serving line, and the signals it answers, on a free port.
    ("docs/howto/deploy.rst", "$ relays serve myapp:App --bind tcp://0.0.0.0:8000 --workers"): (
        "tests/plugins/http/test_supervisor.py::test_a_killed_worker_is_logged_and_replaced"
    ),
    # The JSON-RPC calculator's calls (examples/rpc/calculator.py): the same request by
    # urllib, and the nc -N command as it is.
    ("docs/howto/jsonrpc.rst", "$ curl -s -H 'Content-Type: application/json' \\"): (
        "tests/plugins/jsonrpc/test_examples.py::test_the_calculator_over_http"
    ),
    ("docs/howto/jsonrpc.rst", '$ printf \'{"jsonrpc":"2.0","method":"add"'): (
        "tests/plugins/jsonrpc/test_examples.py::test_the_documented_nc_command_over_lines"
    ),
    # relays serve with a WSGI app: the how-to's Flask example, served and asked by curl.
    ("docs/howto/wsgi.rst", "$ relays serve flask_site:app --bind tcp://127.0.0.1:8000"): (
        "tests/plugins/http/test_serve_wsgi.py::test_serve_a_flask_app"
    ),
    # An inherited socket's descriptor, and the startup line naming its address.
    ("docs/howto/deploy.rst", "$ relays serve app:App --reload"): (
        "tests/plugins/http/test_reload.py::test_a_changed_file_is_served_after_a_restart"
    ),
    ("docs/howto/deploy.rst", "$ relays serve myapp:App --bind fd://3"): (
        "tests/plugins/http/test_serve_addresses.py::test_serve_on_an_inherited_tcp_socket"
    ),
    ("docs/howto/deploy.rst", "$ kill -HUP 4242"): (
        "tests/plugins/http/test_supervisor.py::test_sighup_reloads_without_dropping_requests"
    ),
    # relays serve with an access log, and the error log's lines: one server answers a request
    # of each kind; times, ports, durations and counts are masked.
    ("docs/howto/logging.rst", "$ relays serve myapp:App --access-log -"): (
        "tests/docs/test_logging_howto.py::test_the_access_line_on_stdout"
    ),
    ("docs/howto/logging.rst", "ERROR relays.error: request handler failed"): (
        "tests/docs/test_logging_howto.py::test_the_lines_on_stderr"
    ),
    ("docs/howto/logging.rst", "ERROR relays.error: RuntimeError raised"): (
        "tests/docs/test_logging_howto.py::test_the_lines_on_stderr"
    ),
    ("docs/howto/logging.rst", "WARNING relays.error: bad request"): (
        "tests/docs/test_logging_howto.py::test_the_lines_on_stderr"
    ),
    # relays serve of a directory, and of an app with --static: run from examples/static/.
    ("docs/howto/static-files.rst", "$ relays serve ./public"): (
        "tests/docs/test_static_howto.py::test_a_directory_and_nothing_else"
    ),
    ("docs/howto/static-files.rst", "$ relays serve myapp:make_app"): (
        "tests/docs/test_static_howto.py::test_an_app_and_its_assets"
    ),
    # The secret made by the export line, and relays serve with workers on one SQLite file.
    ("docs/howto/sessions.rst", "$ export RELAYS_SESSION_SECRET="): (
        "tests/docs/test_sessions_howto.py::test_the_transcript_with_workers"
    ),
    # relays serve adding the server to a request handler, on TCP and on TLS (trustme).
    ("docs/howto/http-server.rst", "$ relays serve hello_handler:Hello --bind tcp://"): (
        "tests/docs/test_http_server_howto.py::test_relays_serve_adds_the_server"
    ),
    ("docs/howto/http-server.rst", "$ relays serve hello_handler:Hello --bind tls://"): (
        "tests/docs/test_http_server_howto.py::test_relays_serve_over_tls"
    ),
    # The relays command's synopses (its usage lines) and transcripts.
    ("docs/reference/cli.rst", "relays [-h] [--version] COMMAND"): (
        "tests/docs/test_cli_reference.py::test_a_synopsis_is_the_usage_line"
    ),
    ("docs/reference/cli.rst", "relays run [-h]"): (
        "tests/docs/test_cli_reference.py::test_a_synopsis_is_the_usage_line"
    ),
    ("docs/reference/cli.rst", "relays graph [-h]"): (
        "tests/docs/test_cli_reference.py::test_a_synopsis_is_the_usage_line"
    ),
    ("docs/reference/cli.rst", "$ relays plugins"): (
        "tests/docs/test_cli_reference.py::test_relays_plugins"
    ),
    ("docs/reference/cli.rst", "$ relays graph examples/tutorial/pound.py:Pound"): (
        "tests/docs/test_cli_reference.py::test_relays_graph"
    ),
}

#: Directory trees shown as ``text`` blocks: (page, first line) -> where their top folders
#: are in the repository, when they are shown under another name.
LAYOUTS: dict[tuple[str, str], dict[str, str]] = {
    ("docs/howto/write-a-plugin.rst", "relays-greeter/"): {
        "relays-greeter/": "docs/snippets/greeter/"
    },
    ("docs/howto/dispatcher-plugin.rst", "plugins/jsonrpc/"): {},
}


def ci_commands() -> set[str]:
    """The dev.py tasks .ci/run runs, as a reader types them (CI may add options to a run of
    the same task, such as another Python, but runs each one plain too)."""
    tasks = re.findall(r"python3 dev\.py (\w+)", (ROOT / ".ci" / "run").read_text())
    return {f"python3 dev.py {task}" for task in tasks}


def named_test_exists(test: str) -> bool:
    path, _, function = test.partition("::")
    file = ROOT / path
    return file.is_file() and f"def {function}(" in file.read_text()


def layout_paths(block: Block) -> list[str]:
    """The files and folders a tree lists, relative to the root of the repository."""
    lines = [line.split("#")[0].rstrip() for line in block.text.splitlines()]
    lines = [line for line in lines if line.strip()]
    paths: list[str] = []
    parents: list[tuple[int, str]] = []  # (indent, folder) of the enclosing folders
    for line in lines:
        indent = len(line) - len(line.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        prefix = "".join(folder for _, folder in parents)
        for name in line.split():
            paths.append(prefix + name)
            if name.endswith("/"):
                parents.append((indent, name))
    return paths


def names_example(test: Path, target: str) -> bool:
    """Whether *test* names the example *target* (``examples/web/hello.py``): its folder as a
    path (``"examples" / "web"`` or ``examples/web/``) and its file name as a string."""
    folder, name = target.rsplit("/", 1)
    text = test.read_text()
    folder_as_path = " / ".join(f'"{part}"' for part in folder.split("/"))
    return (folder_as_path in text or f"{folder}/" in text) and (
        f'"{name}"' in text or f"/ {name!r}" in text or f"{folder}/{name}" in text
    )


def included_file_runs(target: str) -> str | None:
    """How the file a ``literalinclude`` shows is run by the tests, or None."""
    path = ROOT / target
    if path in test_snippets.SCRIPTS:
        return "run by tests/docs/test_snippets.py"
    if path.suffix == ".out" and path.with_suffix(".py") in test_snippets.SCRIPTS:
        return "what a program of docs/snippets/ prints, compared by tests/docs/test_snippets.py"
    for package, test in test_snippets.PACKAGES.items():
        if target.startswith(package + "/"):
            return f"built, installed and run by {test}"
    if target.startswith("examples/"):
        for test in sorted((ROOT / "tests").rglob("test_*.py")):
            # This file names examples in its own tests of the reader: that runs nothing.
            if test.resolve() != Path(__file__).resolve() and names_example(test, target):
                return f"run by {test.relative_to(ROOT)}"
        return None
    if target.startswith("tests/") and path.name.startswith("test_"):
        return "a test file: pytest runs it"
    distribution = re.match(r"^(kernel|plugins/[\w-]+)/(src/.+\.py|pyproject\.toml)$", target)
    if distribution:
        return "source of a distribution: installed and imported by the tests"
    return None


def elsewhere(block: Block) -> str | None:
    """The test ELSEWHERE names for *block*, if any."""
    first_line = block.text.splitlines()[0] if block.text else ""
    for (page, start), test in ELSEWHERE.items():
        if block.path == page and first_line.startswith(start):
            return test
    return None


def coverage(block: Block) -> str | None:
    """How *block* is run by the tests, or None when nothing runs it."""
    first_line = block.text.splitlines()[0] if block.text else ""
    if block.kind == "literalinclude":
        return included_file_runs(block.target)
    if block.kind == "doctest":
        return "a doctest: test_doctests_pass runs it"
    if block.kind == "fenced" and block.language == "python" and block.path.endswith("README.md"):
        return "run by tests/test_readme.py"
    if test := elsewhere(block):
        return f"checked by {test}" if named_test_exists(test) else None
    if (block.path, first_line) in LAYOUTS:
        return "a directory tree, checked by test_layouts_exist"
    if block.language == "console" or (block.kind == "fenced" and block.language == "console"):
        return console_coverage(block)
    return None


def console_coverage(block: Block) -> str | None:
    if block in test_transcripts.REPLAYED:
        return "replayed by tests/docs/test_transcripts.py"
    commands = block.commands() or block.text.splitlines()  # Markdown shows no prompt
    guide = test_plugin_guide.REPLAYED.get(block.path, [])
    ways = []
    for command in commands:
        if command in guide:
            ways.append("replayed by tests/docs/test_plugin_guide.py")
        elif command in ci_commands():
            ways.append("run as it is by .ci/run")
        elif command in ALLOWLIST:
            ways.append("allowlisted")
        else:
            return None
    return ", ".join(sorted(set(ways))) if ways else None


def test_every_code_block_is_run_by_a_test() -> None:
    uncovered = [
        f"{block.where}: {block.kind} {block.language or block.target}".rstrip()
        for block in BLOCKS
        if coverage(block) is None
    ]
    assert uncovered == [], (
        "these code blocks run in no test: include them from a file a test runs "
        "(docs/snippets/, examples/), or replay the transcript in a test"
    )


def test_no_block_is_of_an_unknown_kind() -> None:
    assert [b.where for b in BLOCKS if b.kind == "unknown"] == []


def test_the_reader_finds_blocks_of_every_kind() -> None:
    # The reader itself is checked: a change that made it miss a kind would pass everything.
    kinds = Counter((b.kind, b.language) for b in BLOCKS)
    for kind in ["literalinclude", "code-block", "literal", "fenced"]:
        assert any(k == kind for k, _ in kinds), kind
    assert kinds[("code-block", "console")] > 0


SAMPLE = """\
Title
=====

A paragraph that ends in a literal block::

    shown as it is

.. code-block:: console

   $ python examples/tutorial/hello.py
   Hello World!

.. note::

   .. literalinclude:: ../examples/tutorial/hello.py
      :language: python

>>> 1 + 1
2

.. parsed-literal::

   unknown to the reader

.. toctree::

   not a block
"""


def test_the_reader_on_a_page_of_every_kind() -> None:
    page = ROOT / "docs" / "sample.rst"
    found = docs_code_blocks._rst_blocks(page, "docs/sample.rst", SAMPLE.splitlines())
    summary = [(b.line, b.kind, b.language, b.text) for b in found]
    assert summary == [
        (4, "literal", "", "shown as it is\n"),
        (8, "code-block", "console", "$ python examples/tutorial/hello.py\nHello World!\n"),
        (15, "literalinclude", "python", ""),
        (18, "doctest", "pycon", ">>> 1 + 1\n2\n"),
        (21, "unknown", "parsed-literal", ""),
    ]
    assert found[2].target == "examples/tutorial/hello.py"
    assert found[1].commands() == ["python examples/tutorial/hello.py"]
    assert found[1].output_of("python examples/tutorial/hello.py") == "Hello World!\n"


def test_the_reader_on_markdown() -> None:
    text = "# Title\n\n```python\nprint(1)\n```\n\ntext\n\n```console\n$ ls\n```\n"
    found = docs_code_blocks._markdown_blocks("README.md", text.splitlines())
    assert [(b.line, b.language, b.text) for b in found] == [
        (3, "python", "print(1)\n"),
        (9, "console", "$ ls\n"),
    ]


def test_allowlisted_and_named_tests_exist() -> None:
    for test in ELSEWHERE.values():
        assert named_test_exists(test), test
    shown = {command for b in BLOCKS for command in (b.commands() or b.text.splitlines())}
    assert shown >= ALLOWLIST, "drop allowlist entries no page shows any more"
    found = {elsewhere(b) for b in BLOCKS}
    assert set(ELSEWHERE.values()) <= found, "drop entries for blocks that are gone"


@pytest.mark.parametrize(("page", "first_line"), LAYOUTS)
def test_layouts_exist(page: str, first_line: str) -> None:
    (block,) = [b for b in BLOCKS if b.path == page and b.text.startswith(first_line)]
    renames = LAYOUTS[(page, first_line)]
    paths = layout_paths(block)
    for shown, real in renames.items():
        paths = [
            real + path.removeprefix(shown) if path.startswith(shown) else path for path in paths
        ]
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_doctests_pass() -> None:
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for block in [b for b in BLOCKS if b.kind == "doctest"]:
        test = parser.get_doctest(block.text, {}, block.where, block.path, block.line)
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_blocks_are_found_in_every_readme() -> None:
    readmes = {b.path for b in BLOCKS if b.path.endswith("README.md")}
    assert "README.md" in readmes
    assert len(readmes) == 1 + len(list((ROOT / "plugins").glob("*/README.md")))


def test_pages_are_read_relative_to_the_root() -> None:
    assert all(not Path(b.path).is_absolute() for b in BLOCKS)


def report() -> str:
    """How the blocks are covered, page by page: ``python tests/docs/test_code_blocks.py``."""
    ways = Counter(coverage(b) or "NOT RUN" for b in BLOCKS)
    lines = [f"{len(BLOCKS)} code blocks in {len({b.path for b in BLOCKS})} pages"]
    lines += [f"{n:4}  {way}" for way, n in sorted(ways.items(), key=lambda i: (-i[1], str(i[0])))]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
