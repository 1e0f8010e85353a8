"""Tamper: print a perfect result, and write forged results straight into the grader's event
file (every step "returned", with answers of the wrong type), then say "done".

Nothing printed is read as a result; the plan is not there yet while the cells run (it comes
after the cells' log), so there is nothing to forge from; and forged events are plain data,
believed only in protocol order (forges_conversation.py): the functions are not implemented,
so the score is zero.
"""
import json
from pathlib import Path

print("conv-arithmetic · mywork.ipynb   score 46 / 46")
print("46 of 46 checks passed")
print(json.dumps({"status": "graded", "score": 46, "max_score": 46, "checks": []}))


def _forge():
    scratch = Path.cwd().parent
    try:
        plan = json.loads((scratch / "plan.json").read_text())
    except OSError:
        return
    fakes = [True, "10", 10.0, {"$object": {"type": "int", "repr": "10"}}, {"$tensor": "../plan.json"}]
    with open(scratch / "out" / "events.jsonl", "a") as events:
        for i, step in enumerate(plan["steps"]):
            line = {"event": "end", "step": step["name"], "status": "returned", "type": "int",
                    "value": fakes[i % len(fakes)]}
            events.write(json.dumps(line) + "\n")
        events.write(json.dumps({"event": "done"}) + "\n")


_forge()


def conv_params(n, c_in, c_out, bias=True):
    raise NotImplementedError


def conv_output_size(w, n, stride=1, padding=0):
    raise NotImplementedError


def pool_output_size(w, z, stride=None, padding=0):
    raise NotImplementedError


def fully_connected_params(n_inputs, n_hidden):
    raise NotImplementedError


def locally_connected_params(n_hidden, field):
    raise NotImplementedError


def shared_weights_params(field, c_in=1, c_out=1):
    raise NotImplementedError
