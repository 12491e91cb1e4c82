"""The rule package's public names are exactly those it promises."""

import reconciler.rules as rules


def test_every_public_name_is_listed_in_all_and_importable():
    public = {
        name
        for name, value in vars(rules).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("reconciler.")
    }
    assert public <= set(rules.__all__)
    for name in rules.__all__:
        assert hasattr(rules, name), name
