"""The examples of README.md run as they are written (doctest, default backend)."""

import doctest
import os

import pytest

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "README.md")


def test_readme_examples():
    if not os.path.exists(README):
        pytest.skip("no README.md next to tests/ (an installed copy of the tests)")
    with open(README, encoding="utf-8") as f:
        text = f.read()
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, "README.md", README, 0)
    assert len(test.examples) > 30  # the tour is there
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "%d of %d README examples failed (see the output above)" % (
        result.failed,
        result.attempted,
    )
