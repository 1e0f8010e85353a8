"""Hidden checks of toy2d-classifiers (instructor only): the same models on a hidden split.

The hidden split seed decides the training and test points; students never see it, and the
test labels never leave the grader. Other layer sizes check the structure in general.
"""

from grader.assignments import public_checks
from grader.checks import hide
from grader.model import Check

TOY2D = public_checks("toy2d-classifiers")
SEED = 0
HIDDEN_SPLIT_SEED = 0x5C41_9E07_D3B2_88F1_0A6E_47C9_B21D_6F53  # 128 bits: not guessable


def checks_for(split_seed: int) -> list[Check]:
    """Every hidden check, on the split made from `split_seed` (calibrate.py grades many)."""
    made = TOY2D.runs(split_seed, "hidden")
    logistic = TOY2D.made_model("hidden/logistic-5-4.model", "make_logistic_regression", (5, 4), 5)
    mlp = TOY2D.made_model("hidden/mlp-3-7-4.model", "make_mlp", (3, 7, 4), 3)
    random = TOY2D.made_model("hidden/random-3-9-2.model", "make_random_features", (3, 9, 2), 3)
    return hide([
        TOY2D.logistic_size_check("make_logistic_regression/parameter-count-5-4", *logistic, 5, 4),
        TOY2D.mlp_shape_check("make_mlp/structure-3-7-4", *mlp, 3, 7, 4, frozen_first=False),
        TOY2D.mlp_shape_check("make_random_features/frozen-3-9-2", *random, 3, 9, 2, frozen_first=True),
        *TOY2D.accuracy_checks(made, "-hidden-split", hidden=True),
        TOY2D.train_checks(made, TOY2D.still(TOY2D.PUBLIC_SPLIT_SEED, "public"), "-hidden-split", hidden=True),
        TOY2D.predict_given_check("predict/long-tensor-hidden-split", "hidden/spiral", made["mlp-spiral"].split.X_train,
                                  3, split_seed % 2**31, hidden=True),
    ])


CHECKS = checks_for(HIDDEN_SPLIT_SEED)
