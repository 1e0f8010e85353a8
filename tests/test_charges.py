"""Charging the CPU the kernel counted to the steps that used it (grader/charges.py), with literals."""

from __future__ import annotations

from grader.charges import Charges, Sample


def test_each_count_is_charged_to_the_step_it_ran_and_only_to_it() -> None:
    charges = Charges()
    charges.take({None: Sample(1.0), 0: Sample(0.0, ("a.train",), "a.train"), 1: Sample(0.0, ("b.train",), "b.train")},
                 after_cells=True)
    charges.take({None: Sample(1.1), 0: Sample(3.0, ("a.train",), "a.train"), 1: Sample(0.5, (), "b.train")},
                 after_cells=True)
    assert charges.charged == {"a.train": 3.0, "b.train": 0.5}  # b's step ended meanwhile: still its CPU
    assert round(charges.between, 6) == 0.1 and charges.left_by is None  # the kernel's process, between its steps


def test_cpu_outside_every_step_is_between_and_names_the_step_that_left_it() -> None:
    charges = Charges()
    charges.take({0: Sample(0.0, ("c.leave",), "c.leave")}, after_cells=True)
    charges.take({0: Sample(0.1, (), "c.leave")}, after_cells=True)
    charges.take({0: Sample(2.1, (), "c.leave")}, after_cells=True)
    assert charges.charged == {"c.leave": 0.1} and charges.between == 2.0 and charges.left_by == "c.leave"


def test_steps_begun_and_ended_between_two_samples_are_not_between() -> None:
    charges = Charges()
    charges.take({0: Sample(0.0, (), "a")}, after_cells=True)
    charges.take({0: Sample(0.3, (), "a.predict")}, after_cells=True)
    assert charges.between == 0.0 and charges.charged == {}


def test_one_count_of_several_running_steps_is_charged_to_none() -> None:
    """Chains not placed in groups of their own (no control groups): RLIMIT_CPU holds each."""
    charges = Charges()
    charges.take({None: Sample(0.0, ("a.train", "b.train"), "b.train")}, after_cells=True)
    charges.take({None: Sample(4.0, ("a.train", "b.train"), "b.train")}, after_cells=True)
    assert charges.charged == {} and charges.between == 0.0


def test_the_cells_cpu_is_not_between() -> None:
    charges = Charges()
    charges.take({None: Sample(0.5)}, after_cells=False)
    charges.take({None: Sample(9.5)}, after_cells=False)
    assert charges.between == 0.0


def test_where_chains_get_groups_one_count_of_several_steps_is_charged_to_each() -> None:
    """Chains not placed though they could be (their processes did not name themselves)."""
    charges = Charges(strict=True)
    charges.take({None: Sample(0.0, ("a.train", "b.train"), "b.train")}, after_cells=True)
    charges.take({None: Sample(4.0, ("a.train", "b.train"), "b.train")}, after_cells=True)
    assert charges.charged == {"a.train": 4.0, "b.train": 4.0}
