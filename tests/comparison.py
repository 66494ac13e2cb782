"""Agreement checks between ovep's outputs and ORT's CPU EP's outputs."""

from __future__ import annotations

import numpy as np

# Default absolute tolerance at f32. Measured on this project's machine (OpenVINO 2026.4 CPU plugin, f32
# inference precision, against ORT's CPU EP): O(1) outputs differ by up to ~5e-6 from accumulation order,
# so an element near zero needs an absolute floor; 1e-5 is that floor with 2x margin. Outputs much smaller
# than 1 (softmax over 1000 classes) should pass a smaller atol explicitly.
DEFAULT_ATOL = 1e-5


def compare(ovep_outputs, cpu_outputs, rtol: float = 1e-4, atol: float = DEFAULT_ATOL, names=None, what: str = ""):
    """Assert every output agrees: |ovep - cpu| <= atol + rtol * |cpu| elementwise, same shapes and dtypes.

    Integer and bool outputs must be equal. The failure message gives, per failing output, the max absolute
    and max relative difference, the worst element and how many elements are out of tolerance.
    """
    assert len(ovep_outputs) == len(cpu_outputs), (
        f"{what}: ovep returned {len(ovep_outputs)} outputs, the CPU EP {len(cpu_outputs)}"
    )
    names = list(names) if names is not None else [f"output[{i}]" for i in range(len(cpu_outputs))]
    problems = []
    for name, got, want in zip(names, ovep_outputs, cpu_outputs):
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape or got.dtype != want.dtype:
            problems.append(f"{name}: ovep {got.dtype}{list(got.shape)} vs CPU EP {want.dtype}{list(want.shape)}")
            continue
        if not np.issubdtype(want.dtype, np.floating):
            bad = got != want
            if bad.any():
                problems.append(f"{name}: {int(bad.sum())} of {want.size} elements differ (exact match required)")
            continue
        if not np.array_equal(np.isnan(got), np.isnan(want)):
            problems.append(f"{name}: NaN positions differ (ovep {int(np.isnan(got).sum())}, "
                            f"CPU EP {int(np.isnan(want).sum())})")
            continue
        g64, w64 = np.nan_to_num(got.astype(np.float64)), np.nan_to_num(want.astype(np.float64))
        diff = np.abs(g64 - w64)
        bad = diff > atol + rtol * np.abs(w64)
        if bad.any():
            rel = diff / np.maximum(np.abs(w64), np.finfo(np.float64).tiny)
            worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
            problems.append(
                f"{name}: {int(bad.sum())} of {want.size} elements out of tolerance (rtol={rtol:g}, atol={atol:g}); "
                f"max abs diff {diff.max():.3g}, max rel diff {rel[bad].max():.3g}; "
                f"worst at {tuple(int(i) for i in worst)}: ovep {g64[worst]:.7g} vs CPU EP {w64[worst]:.7g}; "
                f"max |CPU EP| {np.abs(w64).max():.3g}"
            )
    assert not problems, f"{what}: ovep disagrees with ORT's CPU EP:\n  " + "\n  ".join(problems)


def max_abs_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def ctc_greedy_decode(logits: np.ndarray, time_axis: int = 0, blank: int = 0) -> list[int]:
    """Greedy CTC decoding (argmax per step, collapse repeats, drop blanks) of a [T, ..., classes] output."""
    best = np.moveaxis(np.asarray(logits), time_axis, 0).reshape(np.asarray(logits).shape[time_axis], -1).argmax(-1)
    out, prev = [], None
    for c in best.tolist():
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return out
