"""One training step of a 1024 → 1024 Linear on 256 rows with PEFT on torch CPU, the cases of
bench/ (npm run bench -- --peft): loss mean(y²), gradients to the input and the trainables, Adam.
Prints one JSON object: median ms per case and each case's ratio to the frozen Linear step.

PEFT's BOFT with boft_n_butterfly_factor > 1 needs its CUDA extension (fbd_cuda); on CPU PEFT would
silently fall back to one factor. Here common.VectorizedFastBlockDiag stands in for the extension.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
import warnings

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import VectorizedFastBlockDiag, versions  # noqa: E402

warnings.filterwarnings("ignore")
D, N, ROWS = 1024, 1024, 256


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(D, N)

    def forward(self, x):
        return self.lin(x)


def case(name, model, trainables):
    x = torch.randn(ROWS, D, requires_grad=True)
    opt = torch.optim.Adam(trainables, lr=1e-3) if trainables else None

    def step():
        if opt:
            opt.zero_grad(set_to_none=True)
        x.grad = None
        torch.mean(torch.square(model(x))).backward()
        if opt:
            opt.step()
    return name, step


def build():
    import peft.tuners.boft.layer as boft_layer
    from peft import BOFTConfig, OFTConfig, get_peft_model

    torch.manual_seed(0)
    base = Base()
    for p in base.parameters():
        p.requires_grad_(False)
    cases = [case("frozen Linear", base, [])]
    # Our numCayleyNeumannTerms N = PEFT's num_cayley_neumann_terms + 1 (docs/math.md §7): N = 5 ↔ 4.
    for label, kw in [("OFT Neumann b=32", dict(use_cayley_neumann=True, num_cayley_neumann_terms=4)),
                      ("OFT exact b=32", dict(use_cayley_neumann=False))]:
        m = get_peft_model(Base(), OFTConfig(target_modules=["lin"], oft_block_size=32, r=0, **kw))
        cases.append(case(label, m, [p for p in m.parameters() if p.requires_grad]))
    boft_layer._FBD_CUDA = VectorizedFastBlockDiag()  # PEFT keeps m > 1; FastBlockDiag calls it
    for m_factors in (2, 4):
        m = get_peft_model(Base(), BOFTConfig(target_modules=["lin"], boft_block_size=8,
                                              boft_n_butterfly_factor=m_factors))
        layer = m.base_model.model.lin
        assert layer.boft_R["default"].shape[0] == m_factors, "PEFT fell back to fewer butterfly factors"
        cases.append(case(f"BOFT m={m_factors} b=8", m, [p for p in m.parameters() if p.requires_grad]))
    return cases


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    cases = build()
    for _ in range(2):
        for _, step in cases:
            step()
    times = {name: [] for name, _ in cases}
    for _ in range(repeats):
        for name, step in cases:
            t0 = time.perf_counter()
            step()
            times[name].append((time.perf_counter() - t0) * 1000)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(json.dumps({"versions": versions(), "threads": torch.get_num_threads(),
                      "note": "BOFT m>1: PEFT's CUDA block-diagonal helper replaced by a vectorized "
                              "pure-torch stand-in",
                      "medianMs": med, "ratio": {k: v / med["frozen Linear"] for k, v in med.items()}}))


if __name__ == "__main__":
    main()
