"""What the machine computes fast, and how many CPU threads each of our processes may use.

Two decisions every entry point (``mmf_run``, extraction, the benchmarks) makes the same way:

- ``native_bf16(device)``: does the device compute bf16 in hardware? CUDA asks torch
  (``torch.cuda.is_bf16_supported(including_emulation=False)``: Ampere and later); the CPU asks
  torch's own cpuinfo checks for AVX512-BF16 or AMX tiles (``torch.cpu._is_avx512_bf16_supported``,
  ``_is_amx_tile_supported``). oneDNN also "supports" bf16 on plain AVX512 by converting to
  fp32 in registers, which is no faster than fp32: that is why ``mkldnn``'s broader check is
  not the one used.
- ``threads_per_process(processes)``: the usable cores (the process's CPU affinity, which
  containers and ``taskset`` narrow) split evenly among the processes started together (DDP
  ranks of one node), at least 1 each. Torch's default is every core in every process: two
  processes on two cores then run 5-14x slower than one alone (issue 20).
"""

from __future__ import annotations

import os
import sys

import torch

# Processes that already printed their thread choice (printed once per process).
_ANNOUNCED: set[str] = set()


def _cpu_has(check: str) -> bool:
    # Private but stable helpers over torch's cpuinfo; an older torch without them: no.
    probe = getattr(torch.cpu, check, None)
    return bool(probe()) if callable(probe) else False


def native_bf16(device: str | torch.device = "cpu") -> tuple[bool, str]:
    """(True if ``device`` computes bf16 natively, the reason in a few words)."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False, "no CUDA device"
        name = torch.cuda.get_device_name(device)
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"{name} computes bf16"
        return False, f"{name} has no native bf16"
    if device.type != "cpu":
        return False, f"{device.type}: bf16 support unknown"
    found = [
        name
        for name, check in (
            ("AMX-BF16", "_is_amx_tile_supported"),
            ("AVX512-BF16", "_is_avx512_bf16_supported"),
        )
        if _cpu_has(check)
    ]
    if found:
        return True, f"the CPU has {' and '.join(found)}"
    capability = torch.backends.cpu.get_cpu_capability()
    return False, f"the CPU ({capability}) has neither AMX-BF16 nor AVX512-BF16"


def auto_precision(device: str | torch.device = "cpu") -> tuple[str, str]:
    """``training.precision: auto``: bf16-mixed where bf16 is native, else 32-true; and why."""
    native, reason = native_bf16(device)
    return ("bf16-mixed" if native else "32-true"), reason


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def threads_per_process(processes: int = 1, override: int | None = None) -> int:
    """Intra-op threads for each of ``processes`` processes sharing this node's cores."""
    if override is not None:
        if int(override) < 1:
            raise ValueError(f"CPU threads must be >= 1, got {override}")
        return int(override)
    return max(1, usable_cores() // max(1, int(processes)))


def set_cpu_threads(
    processes: int = 1, override: int | None = None, who: str = "mmf_imgtune", announce: bool = True
) -> int:
    """Set torch's intra-op threads for this process and print the choice once per ``who``.

    Args:
        processes: processes of this node that run at the same time (DDP ranks).
        override: ``training.cpu_threads`` / ``--threads``; None: ``OMP_NUM_THREADS`` when
            set (torchrun sets 1), else the usable cores split among ``processes``.
    """
    why = "set by the user"
    if override is None and os.environ.get("OMP_NUM_THREADS"):
        # The user's (or torchrun's) explicit choice for this process wins over the split.
        override, why = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    threads = threads_per_process(processes, override)
    torch.set_num_threads(threads)
    if announce and who not in _ANNOUNCED:
        _ANNOUNCED.add(who)
        if override is None:
            why = f"{usable_cores()} usable cores / {max(1, int(processes))} process(es)"
        print(f"{who}: {threads} CPU thread(s) per process ({why})", file=sys.stderr, flush=True)
    return threads
