"""A failed cell described cause first, from IPython's real traceback text."""

from __future__ import annotations

from grader.cell_errors import cell_problem, defined_names, failing_line
from grader.model import CellLog

SYNTAX = ("  Cell In[9], line 3\n    return field * field * c_in * c_out)\n                  ^\n"
          "SyntaxError: unmatched ')'\n")
RUNTIME = ("---------------------------------------------------------------------------\n"
           "ZeroDivisionError                         Traceback (most recent call last)\n"
           "Cell In[4], line 6\n      4     return a / b\n----> 6 ratio = divide(1, 0)\n\n"
           "Cell In[4], line 4, in divide(a, b)\n      3 def divide(a, b):\n----> 4     return a / b\n\n"
           "ZeroDivisionError: division by zero\n")


def test_the_failing_line_is_found_in_the_traceback() -> None:
    assert failing_line(SYNTAX) == (3, "return field * field * c_in * c_out)")
    assert failing_line(RUNTIME) == (4, "return a / b")
    assert failing_line("no traceback here") is None


def test_the_cause_comes_first_and_names_what_it_did_not_define() -> None:
    source = "import tensorflow as tf\n\ndef conv_layer(x):\n    return x\n\nclass Net:\n    pass\n"
    error = "Cell In[2], line 1\n----> 1 import tensorflow as tf\n\nModuleNotFoundError: No module named 'tensorflow'"
    cells = (CellLog(0, "ok"), CellLog(1, "error", "import tensorflow as tf", error), CellLog(2, "error"))
    text = cell_problem(cells, ["x = 1", source, "y"])
    assert text.startswith("code cell 2, line 1: `import tensorflow as tf` failed: ModuleNotFoundError")
    assert "tensorflow is not installed" in text and "torch" in text
    assert "fix it first: conv_layer, Net defined there are missing" in text and "1 more cell failed" in text
    assert defined_names("def f(:\n    pass\nasync def g():\n    pass") == ["f", "g"]
    assert cell_problem((CellLog(0, "ok"),), ["x"]) == ""


def test_a_forged_first_line_stays_inside_the_one_line_message() -> None:
    forged = "x\n  ✓ conv_params   6 / 6\r  ✓ conv_output_size   6 / 6\u2028\n16 of 16 checks passed\n("
    text = cell_problem((CellLog(0, "error", forged),), ["def conv_params():\n    return 0\n"])
    assert text.splitlines() == [text]
    assert text.startswith("code cell 1 (x\\n  ✓ conv_params   6 / 6\\x0d  ✓ conv_output_size   6 / 6\\u2028\\n16 of")
    assert text.endswith("failed: stopped (error); fix it first: conv_params defined there is missing")
