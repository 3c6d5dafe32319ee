"""Round trips between the real PEFT and tfjs-oft (not part of npm test: needs the Python venv).

  python roundtrip.py prepare WORK   trains small OFT/BOFT adapters with PEFT on a torch MLP or CNN, writes,
                                     per case, WORK/<case>/peft_adapter/ (PEFT's save_pretrained),
                                     WORK/<case>/case.json (base weights, inputs, PEFT outputs, training data)
  (node)  interop/peft/roundtrip.ts  imports them into tfjs (must give PEFT's outputs), trains further in
                                     tfjs, exports WORK/<case>/tfjs_adapter/ and WORK/<case>/tfjs.json
  python roundtrip.py check WORK     loads tfjs_adapter/ with PeftModel.from_pretrained on the same base
                                     model and compares its outputs with tfjs' outputs

Run everything with `npm run interop:peft`.
"""
from __future__ import annotations

import copy
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dec, enc, install_pure_torch_fbd, uninstall_pure_torch_fbd, versions  # noqa: E402

from peft import BOFTConfig, OFTConfig, PeftModel, get_peft_model  # noqa: E402

TOL = 1e-5


class Net(nn.Module):
    """fc1 -> ReLU -> fc2 -> ReLU -> head, all nn.Linear."""

    def __init__(self, d=16, h=16, k=12, out=4):
        super().__init__()
        self.fc1 = nn.Linear(d, h)
        self.fc2 = nn.Linear(h, k)
        self.head = nn.Linear(k, out)

    def forward(self, x):
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class Cnn(nn.Module):
    """conv1 (3x3, padding 1) -> ReLU -> conv2 (3x3, stride 2, padding 1) -> ReLU -> spatial mean -> head.
    Input [batch, 4, 6, 6] (NCHW); d = 4·3·3 = 36 for both convs."""

    def __init__(self, c=4, out=3):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.head = nn.Linear(c, out)

    def forward(self, x):
        return self.head(torch.relu(self.conv2(torch.relu(self.conv1(x)))).mean(dim=(2, 3)))


ARCHS = {"mlp": (Net, lambda n: torch.randn(n, 16), 4), "cnn": (Cnn, lambda n: torch.randn(n, 4, 6, 6), 3)}


# name, PEFT config, needs the pure-torch stand-in for fbd_cuda (BOFT m > 1 on CPU); `conv` cases use Cnn.
# PEFT's unmerged OFT Conv2d forward is wrong for k > 1 (F.fold sums overlapping patches): OFT conv cases
# take PEFT's merged model as the reference, both when PEFT trains and when it loads tfjs' export.
CASES = [
    ("oft_neumann_save_head", lambda: OFTConfig(oft_block_size=4, r=0, target_modules=["fc1", "fc2"],
                                                modules_to_save=["head"], bias="oft_only"), False),
    ("oft_exact_coft_r", lambda: OFTConfig(r=4, oft_block_size=0, use_cayley_neumann=False, coft=True, eps=0.5,
                                           target_modules=["fc1", "fc2"]), False),
    ("oft_block_share", lambda: OFTConfig(oft_block_size=8, r=0, block_share=True,
                                          target_modules=["fc1", "fc2"]), False),
    ("oft_bias_all", lambda: OFTConfig(oft_block_size=4, r=0, target_modules=["fc1"], bias="all"), False),
    ("boft_m2_bias", lambda: BOFTConfig(boft_block_size=4, boft_n_butterfly_factor=2, target_modules=["fc1", "fc2"],
                                        bias="boft_only"), True),
    ("boft_m1_blocknum", lambda: BOFTConfig(boft_block_size=0, boft_block_num=4, boft_n_butterfly_factor=1,
                                            target_modules=["fc1", "fc2"]), False),
    ("oft_conv_save_head", lambda: OFTConfig(oft_block_size=6, r=0, target_modules=["conv1", "conv2"],
                                             modules_to_save=["head"], bias="oft_only"), False),
    ("oft_conv_exact_share", lambda: OFTConfig(oft_block_size=4, r=0, use_cayley_neumann=False, block_share=True,
                                               target_modules=["conv1", "conv2"]), False),
    ("boft_conv_m2_bias", lambda: BOFTConfig(boft_block_size=6, boft_n_butterfly_factor=2,
                                             target_modules=["conv1", "conv2"], bias="boft_only"), True),
]


def arch_of(name: str) -> str:
    return "cnn" if "_conv" in name else "mlp"


def reference_outputs(model, name: str, x):
    """PEFT's outputs for `x`: its merged model's for OFT on Conv2d (its unmerged forward is wrong there)."""
    with torch.no_grad():
        if name.startswith("oft") and arch_of(name) == "cnn":
            return copy.deepcopy(model).merge_and_unload()(x)
        return model(x)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def prepare(work: str) -> None:
    for i, (name, make_cfg, fbd) in enumerate(CASES):
        (install_pure_torch_fbd if fbd else uninstall_pure_torch_fbd)()
        torch.manual_seed(2000 + i)
        arch, draw, n_out = ARCHS[arch_of(name)]
        base = arch()
        base_state = {k: enc(v) for k, v in base.state_dict().items()}
        model = get_peft_model(copy.deepcopy(base), make_cfg())
        x_train, y_train = draw(64), torch.randn(64, n_out)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-2)
        model.train()
        for _ in range(40):  # train with PEFT so the adapter is far from the identity
            opt.zero_grad()
            loss = ((model(x_train) - y_train) ** 2).mean()
            loss.backward()
            opt.step()
        model.eval()
        x = draw(8)
        y = reference_outputs(model, name, x)
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(os.path.join(d, "peft_adapter"))
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump({"name": name, "arch": arch_of(name), "versions": versions(), "base": base_state, "x": enc(x), "y_peft": enc(y),
                       "x_train": enc(x_train), "y_train": enc(y_train), "final_peft_loss": loss.item()}, f)
        print(f"prepare {name}: PEFT trained 40 steps, loss {loss.item():.4f}")
    uninstall_pure_torch_fbd()


def check(work: str) -> int:
    failures = 0
    for name, make_cfg, fbd in CASES:
        (install_pure_torch_fbd if fbd else uninstall_pure_torch_fbd)()
        d = os.path.join(work, name)
        with open(os.path.join(d, "case.json")) as f:
            case = json.load(f)
        with open(os.path.join(d, "tfjs.json")) as f:
            tfjs = json.load(f)
        base = ARCHS[arch_of(name)][0]()
        base.load_state_dict({k: dec(v) for k, v in case["base"].items()})
        model = PeftModel.from_pretrained(base, os.path.join(d, "tfjs_adapter"))
        model.eval()
        x = dec(case["x"])
        y = reference_outputs(model, name, x)
        with torch.no_grad():
            merged = copy.deepcopy(model).merge_and_unload()
            y_merged = merged(x)
        y_tfjs = dec(tfjs["y_tfjs_after_training"]).float()
        e = rel(y, y_tfjs)
        em = rel(y_merged, y_tfjs)
        changed = rel(dec(tfjs["y_tfjs_after_training"]).float(), dec(case["y_peft"]))
        ok = e < TOL and em < TOL and changed > 1e-3
        failures += not ok
        note = ""
        if name.startswith("oft") and arch_of(name) == "cnn":
            with torch.no_grad():
                unmerged = rel(model(x), y_tfjs)
            note = f"; PEFT's unmerged OFT Conv2d forward, wrong for k > 1: {unmerged:.2e}"
        print(f"check {name}: PEFT(from_pretrained(tfjs export)) vs tfjs rel {e:.2e}, merged {em:.2e} "
              f"(tfjs training moved outputs by {changed:.2e} rel{note}) {'OK' if ok else 'FAIL'}")
    uninstall_pure_torch_fbd()
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "check"):
        sys.exit("usage: roundtrip.py prepare|check WORKDIR")
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    else:
        sys.exit(1 if check(sys.argv[2]) else 0)
