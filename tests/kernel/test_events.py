"""Event names, construction and presentation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Event, ExceptionEvent
from relays._events import event_name


class Woof(Event):
    pass


class RequestSuccess(Event):
    pass


class HTTPError(Event):
    pass


class Named(Event):
    name = "explicitly-named"


def test_name_comes_from_the_class() -> None:
    assert Woof.name == "woof"
    assert RequestSuccess.name == "request_success"
    assert HTTPError.name == "http_error"
    assert Woof().name == "woof"


def test_explicit_name_wins() -> None:
    assert Named.name == "explicitly-named"

    class Child(Named):
        pass

    assert Child.name == "child"
    assert ExceptionEvent.name == "exception"


def test_args_and_kwargs_are_kept() -> None:
    event = Woof(1, "two", three=3)
    assert event.args == (1, "two")
    assert event.kwargs == {"three": 3}
    assert event[0] == 1
    assert event["three"] == 3


def test_create_makes_named_events_and_caches_the_class() -> None:
    first = Event.create("ping", 1)
    second = Event.create("ping")
    assert first.name == "ping"
    assert type(first) is type(second)
    assert first.args == (1,)
    assert Event.create("RequestDone").name == "request_done"


def test_flags_default_off_and_can_be_set_per_instance() -> None:
    event = Woof()
    assert (event.success, event.failure, event.complete) == (False, False, False)
    event.success = True
    assert event.success
    assert not Woof().success


def test_stop_sets_the_flag() -> None:
    event = Woof()
    assert not event.stopped
    event.stop()
    assert event.stopped


def test_repr_names_class_channels_and_arguments() -> None:
    event = Woof(1, key="v")
    event.channels = ("bob",)
    assert repr(event) == "<Woof[bob:woof] (1) {key='v'}>"


@given(st.from_regex(r"[A-Z][a-z0-9]{0,6}([A-Z][a-z0-9]{1,6}){0,3}", fullmatch=True))
def test_event_names_are_lowercase_words(class_name: str) -> None:
    name = event_name(class_name)
    assert name == name.lower()
    assert name.replace("_", "") == class_name.lower()


def test_done_is_false_before_firing() -> None:
    assert not Woof().done


@pytest.mark.parametrize("index", [5, "missing"])
def test_indexing_missing_arguments_raises(index: int | str) -> None:
    with pytest.raises((IndexError, KeyError)):
        Woof()[index]
