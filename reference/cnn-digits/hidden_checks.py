"""Hidden checks of cnn-digits (instructor only): the accuracy on a hidden split, and another class count."""

from grader.assignments import public_checks
from grader.checks import hide
from grader.model import Check

CNN = public_checks("cnn-digits")
SEED = 0
HIDDEN_SPLIT_SEED = 0x2F8D_71A4_C06B_E395_5D12_8B7E_F4A0_39C6  # 128 bits: not guessable


def checks_for(split_seed: int) -> list[Check]:
    """Every hidden check, on the split made from `split_seed` (calibrate.py grades many)."""
    run = CNN.digits_run(split_seed, "hidden")
    three = CNN.made_cnn("hidden/3-classes.cnn", run.split.X_train[:5], n_classes=3)
    return hide([
        CNN.output_shape_check("make_cnn/output-shape-3-classes", *three, 3),
        CNN.digits_accuracy("make_cnn/digits-accuracy-hidden-split", run, hidden=True),
        CNN.time_budget_check("train/time-budget-hidden-split", run),
        CNN.train_checks(run, CNN.still(CNN.PUBLIC_SPLIT_SEED), "-hidden-split", hidden=True),
        CNN.predict_given_check("predict/long-tensor-hidden-split", "hidden/digits", run.split.X_train[:300], 10,
                                split_seed % 2**31, hidden=True),
    ])


CHECKS = checks_for(HIDDEN_SPLIT_SEED)
