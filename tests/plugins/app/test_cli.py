"""relays serve --daemon/--pidfile/--user/--group, added through the options hook."""

from __future__ import annotations

import os

import pytest

from relays._cli import build_parser, main


def test_serve_has_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--daemon", "--pidfile", "--daemon-output", "--user", "--group"):
        assert option in help_text


def test_an_unknown_user_stops_serve_before_anything_runs() -> None:
    with pytest.raises(SystemExit, match="no user 'no-such-user-here'"):
        main(["serve", "--user", "no-such-user-here", "nowhere:app"])


def test_group_without_user_is_refused() -> None:
    with pytest.raises(SystemExit, match="--group needs --user"):
        main(["serve", "--group", "nogroup", "nowhere:app"])


def test_a_live_pidfile_stops_serve_in_the_foreground(tmp_path: os.PathLike[str]) -> None:
    pidfile = os.path.join(tmp_path, "serve.pid")
    with open(pidfile, "w") as file:
        file.write(f"{os.getppid()}\n")
    with pytest.raises(SystemExit, match="is alive"):
        main(["serve", "--daemon", "--pidfile", pidfile, "nowhere:app"])
