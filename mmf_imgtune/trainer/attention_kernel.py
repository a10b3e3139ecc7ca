"""The SDPA kernel a training step runs: PyTorch's math path for bf16 on the CPU.

torch's fused CPU "flash" kernel for ``scaled_dot_product_attention`` is the default, and in
bf16 its backward is about 2x slower than the plain math path (two matmuls and a softmax under
autograd) at our sequence lengths (65 positions, 9 heads of 64: 20.8 vs 8.8 ms forward +
backward per layer, docs/speed.md). Training steps in bf16 on the CPU therefore pin the math
kernel; fp32, CUDA (whose fused kernels are the fast ones) and decoding are left alone.
"""

from __future__ import annotations

import contextlib

from torch.nn.attention import SDPBackend, sdpa_kernel


def training_attention(precision: str, on_cpu: bool) -> contextlib.AbstractContextManager:
    """A context that selects the SDPA kernel for a training step's forward (its backward
    follows the forward's choice)."""
    if on_cpu and precision.startswith("bf16"):
        return sdpa_kernel(SDPBackend.MATH)
    return contextlib.nullcontext()
