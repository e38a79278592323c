"""The tree utilities find components by type, name and channel, as circuits' do."""

from __future__ import annotations

from relays import Component, findchannel, findcmp, findroot, findtype, flatten


class App(Component):
    pass


class Dog(Component):
    pass


class Puppy(Dog):
    pass


def make_tree() -> tuple[App, Dog, Puppy, Component]:
    app = App()
    dog = Dog(channel="dogs").register(app)
    puppy = Puppy(channel="dogs").register(dog)
    cat = Component(channel="cats").register(app)
    return app, dog, puppy, cat


def test_flatten_walks_depth_first_parents_first() -> None:
    app, dog, puppy, cat = make_tree()
    assert list(flatten(app)) == [app, dog, puppy, cat]
    assert list(flatten(puppy)) == [puppy]


def test_findroot_is_the_top_of_the_tree() -> None:
    app, _, puppy, _ = make_tree()
    assert findroot(puppy) is app
    assert findroot(app) is app


def test_findtype_finds_instances_of_a_class_and_its_subclasses() -> None:
    app, dog, puppy, _ = make_tree()
    assert findtype(app, Dog) is dog
    assert findtype(app, Dog, all=True) == [dog, puppy]
    assert findtype(app, Puppy) is puppy
    assert findtype(puppy, App) is None
    assert findtype(puppy, App, all=True) == []


def test_findcmp_takes_a_class_or_a_name() -> None:
    app, dog, puppy, _ = make_tree()
    assert findcmp(app, "Puppy") is puppy
    assert findcmp(app, Dog, all=True) == [dog, puppy]
    assert findcmp(app, "Nobody") is None


def test_findchannel_finds_by_channel() -> None:
    app, dog, puppy, cat = make_tree()
    assert findchannel(app, "dogs") is dog
    assert findchannel(app, "dogs", all=True) == [dog, puppy]
    assert findchannel(app, "cats") is cat
    assert findchannel(app, "birds") is None
