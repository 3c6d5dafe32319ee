"""Writes the PEFT parity fixtures into test/fixtures/peft/ (re-runnable, deterministic).

Run:  npm run fixtures:peft      (or: PY=$(bash interop/peft/setup.sh | tail -1); $PY interop/peft/make_fixtures.py)

For each case, in test/fixtures/peft/<case>/:
  adapter_config.json, adapter_model.safetensors   written by PEFT's save_pretrained (as PEFT stores them)
  case.json   the base model weights, the inputs, PEFT's outputs (float32 and float64), the merged weights
              (merge_and_unload) and the adapter parameters PEFT holds after the forward pass.

The torch model of a case is either a single nn.Linear named `proj`, or `fc1 -> ReLU -> fc2` ("mlp");
the Conv2d cases (CONV_CASES, listed as "conv_cases" in index.json) adapt one or two nn.Conv2d modules
(`conv`, or `conv1 -> ReLU -> conv2`), on NCHW inputs. PEFT's unmerged OFT Conv2d forward is wrong for
kernels larger than 1x1 (it folds overlapping patches back with F.fold, which sums them), so an OFT conv
case's reference outputs are those of PEFT's merged model ("y_merged"); "y_peft_unmerged" keeps what the
unmerged forward computed, to document the bug. BOFT conv cases have both, and they agree.
Adapter parameters are random (init_weights=False draws PEFT's own N(0, 0.1) / N(1, 0.1)), scaled
per case, so the rotation is far from the identity and the comparison means something.

BOFT with boft_n_butterfly_factor > 1: PEFT only honours it when its CUDA extension (fbd_cuda) builds,
and silently uses a factor of 1 otherwise. On a CPU machine this script supplies the extension's
block-diagonal step with a pure-torch function (common.PureTorchFastBlockDiag) so that PEFT's own
BOFT code runs unchanged; each such fixture says so in case.json ("block_diag").
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import enc, install_pure_torch_fbd, uninstall_pure_torch_fbd, versions  # noqa: E402

from peft import BOFTConfig, OFTConfig, get_peft_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "peft")
BATCH = 4


class Proj(nn.Module):
    def __init__(self, d: int, n: int):
        super().__init__()
        self.proj = nn.Linear(d, n)

    def forward(self, x):
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, d: int, h: int, n: int):
        super().__init__()
        self.fc1 = nn.Linear(d, h)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(h, n)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# name, method, model dims, PEFT config kwargs, scale of the random adapter parameters
CASES = [
    ("oft_neumann_b4", "oft", {"d": 16, "n": 8}, dict(oft_block_size=4, r=0), 1.0),
    ("oft_neumann_b8_terms7", "oft", {"d": 16, "n": 8},
     dict(oft_block_size=8, r=0, num_cayley_neumann_terms=7), 1.0),
    ("oft_neumann_terms3", "oft", {"d": 16, "n": 8}, dict(oft_block_size=4, r=0, num_cayley_neumann_terms=3), 1.0),
    ("oft_exact_b4", "oft", {"d": 16, "n": 8}, dict(oft_block_size=4, r=0, use_cayley_neumann=False), 3.0),
    ("oft_exact_r2", "oft", {"d": 16, "n": 8}, dict(oft_block_size=0, r=2, use_cayley_neumann=False), 2.0),
    ("oft_block_share", "oft", {"d": 16, "n": 8}, dict(oft_block_size=4, r=0, block_share=True), 1.0),
    ("oft_block_share_exact", "oft", {"d": 16, "n": 8},
     dict(oft_block_size=8, r=0, block_share=True, use_cayley_neumann=False), 2.0),
    ("oft_coft", "oft", {"d": 16, "n": 8}, dict(oft_block_size=4, r=0, coft=True, eps=0.6), 1.0),
    ("oft_coft_exact", "oft", {"d": 16, "n": 8},
     dict(oft_block_size=4, r=0, coft=True, eps=0.6, use_cayley_neumann=False), 1.0),
    ("oft_adjust_b7_d24", "oft", {"d": 24, "n": 8}, dict(oft_block_size=7, r=0), 1.0),
    ("oft_adjust_r5_d24", "oft", {"d": 24, "n": 8}, dict(oft_block_size=0, r=5, use_cayley_neumann=False), 2.0),
    ("oft_module_dropout", "oft", {"d": 16, "n": 8}, dict(oft_block_size=4, r=0, module_dropout=0.5), 1.0),
    ("oft_mlp_exact", "oft", {"d": 16, "h": 12, "n": 8},
     dict(oft_block_size=4, r=0, use_cayley_neumann=False), 2.0),
    ("boft_m1_b4", "boft", {"d": 16, "n": 8}, dict(boft_block_size=4, boft_n_butterfly_factor=1), 3.0),
    ("boft_m1_n2", "boft", {"d": 16, "n": 8}, dict(boft_block_size=0, boft_block_num=2, boft_n_butterfly_factor=1),
     2.0),
    ("boft_m2_b2", "boft", {"d": 16, "n": 8}, dict(boft_block_size=2, boft_n_butterfly_factor=2), 3.0),
    ("boft_m2_n4", "boft", {"d": 16, "n": 8}, dict(boft_block_size=0, boft_block_num=4, boft_n_butterfly_factor=2),
     3.0),
    ("boft_m3_b2", "boft", {"d": 16, "n": 8}, dict(boft_block_size=2, boft_n_butterfly_factor=3), 3.0),
    ("boft_m3_n4", "boft", {"d": 16, "n": 8}, dict(boft_block_size=0, boft_block_num=4, boft_n_butterfly_factor=3),
     3.0),
    ("boft_mlp_m2", "boft", {"d": 16, "h": 12, "n": 8}, dict(boft_block_size=2, boft_n_butterfly_factor=2), 3.0),
]


class Cnn(nn.Module):
    """nn.Conv2d modules in sequence with ReLU between them; `convs` lists their geometry."""

    def __init__(self, cin: int, convs: list[dict]):
        super().__init__()
        self.names = []
        for spec in convs:
            conv = nn.Conv2d(cin, spec["out"], spec["k"], stride=spec["stride"], padding=spec["padding"])
            setattr(self, spec["name"], conv)
            self.names.append(spec["name"])
            cin = spec["out"]

    def forward(self, x):
        for i, name in enumerate(self.names):
            x = getattr(self, name)(x)
            if i < len(self.names) - 1:
                x = torch.relu(x)
        return x


def conv(name, out, k, stride=1, padding=0):
    return {"name": name, "out": out, "k": k, "stride": stride, "padding": padding}


# name, method, input {cin, hw}, the convs, PEFT config kwargs, scale of the random adapter parameters.
# d = cin·k² per conv: 3x3 on 2 channels is 18, on 4 channels 36; 1x1 on 8 channels is 8.
CONV_CASES = [
    ("oft_conv3x3_neumann", "oft", {"cin": 2, "hw": 6}, [conv("conv", 4, 3, padding=1)],
     dict(oft_block_size=6, r=0), 1.0),
    ("oft_conv3x3_exact_r2", "oft", {"cin": 2, "hw": 6}, [conv("conv", 4, 3)],
     dict(oft_block_size=0, r=2, use_cayley_neumann=False), 2.0),
    ("oft_conv1x1_exact", "oft", {"cin": 8, "hw": 5}, [conv("conv", 6, 1)],
     dict(oft_block_size=4, r=0, use_cayley_neumann=False), 2.0),
    ("oft_conv_adjust_b4_d18", "oft", {"cin": 2, "hw": 6}, [conv("conv", 3, 3, stride=2, padding=1)],
     dict(oft_block_size=4, r=0), 1.0),
    ("oft_conv_block_share", "oft", {"cin": 2, "hw": 6}, [conv("conv", 4, 3, padding=1)],
     dict(oft_block_size=6, r=0, block_share=True), 1.0),
    ("oft_conv_cnn_stride", "oft", {"cin": 2, "hw": 7},
     [conv("conv1", 4, 3, padding=1), conv("conv2", 3, 3, stride=2, padding=1)],
     dict(oft_block_size=6, r=0, use_cayley_neumann=False), 2.0),
    ("boft_conv3x3_m1", "boft", {"cin": 2, "hw": 6}, [conv("conv", 4, 3, padding=1)],
     dict(boft_block_size=6, boft_n_butterfly_factor=1), 3.0),
    ("boft_conv3x3_m2_stride", "boft", {"cin": 4, "hw": 7}, [conv("conv", 3, 3, stride=2, padding=1)],
     dict(boft_block_size=6, boft_n_butterfly_factor=2), 3.0),
    ("boft_conv1x1_m3_n4", "boft", {"cin": 8, "hw": 5}, [conv("conv", 6, 1)],
     dict(boft_block_size=0, boft_block_num=4, boft_n_butterfly_factor=3), 3.0),
]


def build_base(dims) -> nn.Module:
    if "h" in dims:
        return Mlp(dims["d"], dims["h"], dims["n"])
    return Proj(dims["d"], dims["n"])


def linear_names(model: nn.Module) -> list[str]:
    return [name for name, mod in model.named_modules() if isinstance(mod, (nn.Linear, nn.Conv2d))]


def adapter_params(peft_model, names, method) -> dict:
    """The adapter parameters as PEFT holds them, per module (keys as in PEFT's layer)."""
    out = {}
    for name in names:
        layer = peft_model.base_model.model.get_submodule(name)
        if method == "oft":
            out[name] = {"oft_R.weight": enc(layer.oft_R["default"].weight)}
        else:
            out[name] = {"boft_R": enc(layer.boft_R["default"]), "boft_s": enc(layer.boft_s["default"])}
    return out


def resolved(peft_model, names, method) -> dict:
    """What PEFT resolved per layer (block size after its adjustment, number of blocks, ...)."""
    out = {}
    for name in names:
        layer = peft_model.base_model.model.get_submodule(name)
        if method == "oft":
            out[name] = {"r": layer.r["default"], "oft_block_size": layer.oft_block_size["default"],
                         "in_features": layer.in_features, "out_features": layer.out_features}
        else:
            out[name] = {"boft_block_size": layer.boft_block_size["default"],
                         "boft_block_num": layer.boft_block_num["default"],
                         "boft_n_butterfly_factor": int(layer.boft_R["default"].shape[0]),
                         "fbd_cuda_available": bool(layer.fbd_cuda_available),
                         "in_features": layer.in_features, "out_features": layer.out_features}
    return out


def make_case(name, method, dims, kwargs, scale, seed, convs=None):
    torch.manual_seed(seed)
    base = Cnn(dims["cin"], convs) if convs else build_base(dims)
    names = linear_names(base)
    base_state = {n: {"weight": enc(base.get_submodule(n).weight), "bias": enc(base.get_submodule(n).bias)}
                  for n in names}
    x = torch.randn(BATCH, dims["cin"], dims["hw"], dims["hw"]) if convs else torch.randn(BATCH, dims["d"])

    uses_fbd_standin = method == "boft" and kwargs.get("boft_n_butterfly_factor", 1) > 1
    if uses_fbd_standin:
        install_pure_torch_fbd()
    else:
        uninstall_pure_torch_fbd()

    if method == "oft":
        cfg = OFTConfig(target_modules=names, init_weights=False, **kwargs)
    else:
        cfg = BOFTConfig(target_modules=names, init_weights=False, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = get_peft_model(copy.deepcopy(base), cfg)
    peft_warnings = sorted({str(w.message) for w in caught if str(w.message).startswith("Invalid")})

    # Scale PEFT's N(0, 0.1) draw of the rotation parameters (boft_s keeps its N(1, 0.1)).
    with torch.no_grad():
        for n in names:
            layer = model.base_model.model.get_submodule(n)
            if method == "oft":
                layer.oft_R["default"].weight.mul_(scale)
            else:
                layer.boft_R["default"].mul_(scale)
    res = resolved(model, names, method)
    if uses_fbd_standin:
        for n in names:
            want = kwargs["boft_n_butterfly_factor"]
            got = res[n]["boft_n_butterfly_factor"]
            assert got == want, f"{name}: PEFT built {got} butterfly factors, wanted {want}"

    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    stored = adapter_params(model, names, method)
    model.save_pretrained(d)  # adapter_config.json + adapter_model.safetensors, before any forward
    if os.path.exists(os.path.join(d, "README.md")):
        os.remove(os.path.join(d, "README.md"))  # PEFT's model-card stub: not needed here

    model.eval()
    with torch.no_grad():
        y = model(x)
        # float64 run of the same PEFT model (coft: its projection already happened in the forward above)
        m64 = copy.deepcopy(model).double()
        y64 = m64(x.double())
    after = adapter_params(model, names, method)

    extra = {}
    if method == "oft" and kwargs.get("module_dropout", 0) > 0:
        # PEFT builds a MultiplicativeDropoutLayer for OFT but its forward never calls it.
        model.train()
        torch.manual_seed(seed + 1)
        with torch.no_grad():
            y_train = model(x)
        model.eval()
        extra["peft_train_mode_equals_eval"] = bool(torch.equal(y_train, y))

    merged_model = copy.deepcopy(model).merge_and_unload()
    merged = {n: {"weight": enc(merged_model.get_submodule(n).weight), "bias": enc(merged_model.get_submodule(n).bias)}
              for n in names}
    with torch.no_grad():
        y_merged = merged_model(x)
    if convs:
        extra["convs"] = convs
        extra["y_peft_unmerged"] = enc(y)
        extra["peft_unmerged_vs_merged_rel"] = float((y - y_merged).abs().max() / y_merged.abs().max())
        if method == "oft":
            # PEFT's unmerged OFT Conv2d forward is wrong for k > 1 (F.fold sums overlapping patches):
            # the reference outputs are its merged model's, in float32 and float64.
            extra["reference_outputs"] = "merged"
            with torch.no_grad():
                y, y64 = y_merged, copy.deepcopy(merged_model).double()(x.double())
        # At identity init (PEFT's default init_weights=True: R = I) a correct adapter computes the base model;
        # PEFT's unmerged OFT Conv2d forward does not, for k > 1.
        config_class = OFTConfig if method == "oft" else BOFTConfig
        identity = get_peft_model(copy.deepcopy(base), config_class(target_modules=names, **kwargs)).eval()
        with torch.no_grad():
            y_base, y_identity = base.eval()(x), identity(x)
        extra["peft_identity_vs_base_rel"] = float((y_identity - y_base).abs().max() / y_base.abs().max())

    with open(os.path.join(d, "adapter_config.json")) as f:
        saved_cfg = json.load(f)
    case = {
        "name": name,
        "method": method,
        "model": "cnn" if convs else "mlp" if "h" in dims else "proj",
        "dims": dims,
        "peft_kwargs": kwargs,
        "adapter_config": saved_cfg,
        "param_scale": scale,
        "versions": versions(),
        "block_diag": ("pure-torch stand-in for PEFT's fbd_cuda extension (interop/peft/common.py), "
                       "PEFT's BOFT code otherwise unchanged" if uses_fbd_standin else "PEFT's own code path"),
        "peft_warnings": peft_warnings,
        "resolved": res,
        "base": base_state,
        "x": enc(x),
        "y": enc(y),
        "y64": enc(y64),
        "y_merged": enc(y_merged),
        "adapter_stored": stored,
        "adapter_after_forward": after,
        "merged": merged,
        **extra,
    }
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")
    uninstall_pure_torch_fbd()
    return case


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # PEFT keeps target_modules as a set: fix the hash seed so adapter_config.json is reproducible.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    torch.set_default_dtype(torch.float32)
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    index = []
    for i, (name, method, dims, kwargs, scale) in enumerate(CASES):
        if only and name not in only:
            continue
        case = make_case(name, method, dims, kwargs, scale, seed=1000 + i)
        index.append(name)
        print(f"{name}: resolved {json.dumps(case['resolved'])}")
    conv_index = []
    for i, (name, method, dims, convs, kwargs, scale) in enumerate(CONV_CASES):
        if only and name not in only:
            continue
        case = make_case(name, method, dims, kwargs, scale, seed=3000 + i, convs=convs)
        conv_index.append(name)
        print(f"{name}: resolved {json.dumps(case['resolved'])}, PEFT unmerged vs merged "
              f"{case['peft_unmerged_vs_merged_rel']:.2e}, at identity init vs base "
              f"{case['peft_identity_vs_base_rel']:.2e}")
    if not only:
        with open(os.path.join(OUT, "index.json"), "w") as f:
            json.dump({"cases": index, "conv_cases": conv_index, "versions": versions()}, f, indent=1)
            f.write("\n")
    print(f"wrote {len(index)} Linear and {len(conv_index)} Conv2d cases to {OUT}")


if __name__ == "__main__":
    main()
