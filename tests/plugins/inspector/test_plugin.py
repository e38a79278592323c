"""relays serve --inspect: the options, the hook, and the command run for real."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from relays import BaseComponent, Config, plugin_manager
from relays_inspector import Inspector
from relays_inspector._cli import add_options, app_created, configure, parse_network


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_options(parser)
    return parser.parse_args(argv)


def test_off_by_default() -> None:
    options = parse()
    assert options.inspect is False
    assert options.inspect_allow is None


def test_networks_are_checked() -> None:
    assert parse_network("10.0.0.0/8") == "10.0.0.0/8"
    assert parse_network("*") == "*"
    with pytest.raises(argparse.ArgumentTypeError, match="network"):
        parse_network("the office")


def test_the_hook_mounts_an_inspector_with_the_token_made_once() -> None:
    options = parse("--inspect", "--inspect-allow", "10.0.0.0/8")
    config = Config("serve", options, plugin_manager())
    configure(config)
    token = options.inspect_token
    configure(config)  # the token is made once, before any fork
    assert options.inspect_token == token
    server = BaseComponent(channel="web")
    app_created(server, config)
    [inspector] = [child for child in server.components if isinstance(child, Inspector)]
    assert inspector.token == token
    assert inspector.access.peer_allowed(("10.2.3.4", 1))
    assert inspector.access.peer_allowed(("127.0.0.1", 1))


def test_the_plugin_leaves_the_server_alone_without_inspect() -> None:
    config = Config("serve", parse(), plugin_manager())
    server = BaseComponent(channel="web")
    config.plugin_manager.hook.relays_app_created(app=server, config=config)
    assert not any(isinstance(child, Inspector) for child in server.walk())


RELAYS = [sys.executable, "-c", "import sys; from relays._cli import main; sys.exit(main())"]


@pytest.mark.integration
def test_relays_serve_inspect_prints_a_link_that_opens_the_page() -> None:
    process = subprocess.Popen(
        [*RELAYS, "serve", "--inspect", "--bind", "tcp://127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        said = []
        for line in process.stderr:
            said.append(line)
            match = re.search(r"inspector at (http://\S+)", line)
            if match:
                break
        assert match, "".join(said)
        link = match.group(1)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(link, timeout=10) as answer:  # the redirect drops the token
            assert answer.url.endswith("/_relays/")
            assert "relays inspector" in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(link.split("?")[0], timeout=10)
        assert refused.value.code == 403
        refused.value.close()
    finally:
        process.kill()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()
