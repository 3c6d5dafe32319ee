"""Helpers shared by the PEFT interop scripts (fixtures and round trips).

Tensors cross to the TypeScript side in JSON as {"dtype", "shape", "data"} where "data" is the
base64 of the raw little-endian buffer (bit-exact, compact).
"""
from __future__ import annotations

import base64
import sys

import numpy as np
import torch


def enc(t) -> dict:
    """Encodes a tensor (torch or numpy) as {"dtype", "shape", "data": base64 little-endian}."""
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.dtype == np.float64:
        dt, a = "float64", a.astype("<f8")
    else:
        dt, a = "float32", a.astype("<f4")
    return {"dtype": dt, "shape": list(a.shape), "data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}


def dec(obj: dict) -> torch.Tensor:
    """Inverse of enc()."""
    np_dt = {"float32": "<f4", "float64": "<f8"}[obj["dtype"]]
    a = np.frombuffer(base64.b64decode(obj["data"]), dtype=np_dt).reshape(obj["shape"])
    return torch.from_numpy(a.copy())


class PureTorchFastBlockDiag:
    """Stand-in for PEFT's `fbd_cuda` extension (BOFT's FastBlockDiag), in plain torch.

    PEFT only runs BOFT with `boft_n_butterfly_factor > 1` when its CUDA extension builds; otherwise it
    silently falls back to a factor of 1. The extension maps an input of shape [z, N, b, b] to
    [z, N*b, N*b] holding, for each z, blockdiag(input[z, 0], ..., input[z, N-1]) (see
    peft/tuners/boft/fbd/fbd_cuda_kernel.cu); backward extracts those diagonal blocks. This object
    provides the same `forward`/`backward` on any device, so the rest of PEFT's BOFT code runs as is.
    """

    @staticmethod
    def forward(inp: torch.Tensor):
        z, n, b, _ = inp.shape
        out = torch.stack([torch.block_diag(*torch.unbind(inp[i])) for i in range(z)])
        return [out]

    @staticmethod
    def backward(grad_output: torch.Tensor, inp: torch.Tensor):
        z, n, b, _ = inp.shape
        g = torch.stack(
            [torch.stack([grad_output[i, j * b:(j + 1) * b, j * b:(j + 1) * b] for j in range(n)]) for i in range(z)]
        )
        return [g]


def install_pure_torch_fbd() -> None:
    """Makes PEFT's BOFT believe its CUDA block-diagonal extension is available (see above)."""
    import peft.tuners.boft.layer as boft_layer

    boft_layer._FBD_CUDA = PureTorchFastBlockDiag()


def uninstall_pure_torch_fbd() -> None:
    import peft.tuners.boft.layer as boft_layer

    boft_layer._FBD_CUDA = None


def versions() -> dict:
    import peft

    return {"torch": torch.__version__, "peft": peft.__version__, "python": sys.version.split()[0]}


class VectorizedFastBlockDiag:
    """Same contract as PureTorchFastBlockDiag, without Python loops (for timing PEFT's BOFT on CPU):
    the blocks are written to / read from the diagonal of a [z, N, b, N, b] view with one indexing op."""

    @staticmethod
    def forward(inp: torch.Tensor):
        z, n, b, _ = inp.shape
        out = inp.new_zeros(z, n, b, n, b)
        idx = torch.arange(n, device=inp.device)
        out[:, idx, :, idx, :] = inp.permute(1, 0, 2, 3)
        return [out.reshape(z, n * b, n * b)]

    @staticmethod
    def backward(grad_output: torch.Tensor, inp: torch.Tensor):
        z, n, b, _ = inp.shape
        idx = torch.arange(n, device=inp.device)
        return [grad_output.reshape(z, n, b, n, b)[:, idx, :, idx, :].permute(1, 0, 2, 3).contiguous()]
