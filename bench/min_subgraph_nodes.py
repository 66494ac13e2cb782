"""How small a group of nodes is worth an OpenVINO call: the measurement behind the
`min_subgraph_nodes` default. Islands of 1, 2 and 4 supported nodes sit between nodes
OpenVINO cannot run (com.microsoft.GridSample); each model runs with the islands offered
to ovep (`min_subgraph_nodes=1`) and kept on ORT's CPU EP (a huge value), in one process,
alternating, and the ratio ovep/CPU per island size is printed.

    .venv/bin/python bench/min_subgraph_nodes.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import ovep

MS = "com.microsoft"
SPIN = __import__("os").environ.get("OVEP_BENCH_SPIN", "1")


def island_model(kind: str, size: int, islands: int = 8, c: int = 32, hw: int = 56) -> bytes:
    """`islands` groups of `size` nodes of `kind`, each between two GridSamples."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    for i in range(islands):
        nodes.append(helper.make_node("GridSample", [x, "grid"], [f"g{i}"], domain=MS, mode="bilinear"))
        x = f"g{i}"
        for j in range(size):
            out = f"n{i}_{j}"
            if kind == "relu":
                nodes.append(helper.make_node("Relu", [x], [out]))
            else:
                w = f"w{i}_{j}"
                inits.append(numpy_helper.from_array((rng.standard_normal((c, c, 3, 3)) * 0.05).astype(np.float32), w))
                nodes.append(helper.make_node("Conv", [x, w], [out], pads=[1, 1, 1, 1]))
            x = out
    graph = helper.make_graph(
        nodes,
        "islands",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw]),
         helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, hw, hw, 2])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model.SerializeToString()


def time_runs(sess, feeds, n=30) -> float:
    for _ in range(3):
        sess.run(None, feeds)
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        sess.run(None, feeds)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1e3


def main() -> None:
    devices = ovep.register(ort)
    rng = np.random.default_rng(1)
    feeds = {"x": rng.random((1, 32, 56, 56), dtype=np.float32),
             "grid": (rng.random((1, 56, 56, 2), dtype=np.float32) * 2 - 1)}
    print("| island | nodes per island | ovep ms (offered) | ms (kept on CPU EP) | ovep / CPU EP |")
    print("|---|---|---|---|---|")
    for kind in ("relu", "conv"):
        for size in (1, 2, 4):
            model = island_model(kind, size)
            sessions = {}
            for label, value in (("ovep", "1"), ("cpu", "1000000")):
                so = ort.SessionOptions()
                so.log_severity_level = 3
                if SPIN == "0":
                    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                so.add_provider_for_devices(devices[:1], {"min_subgraph_nodes": value})
                sessions[label] = ort.InferenceSession(model, sess_options=so)
            times = {k: [] for k in sessions}
            for _ in range(3):  # alternate so machine noise hits both
                for k, s in sessions.items():
                    times[k].append(time_runs(s, feeds))
            o, c = statistics.median(times["ovep"]), statistics.median(times["cpu"])
            print(f"| {kind} | {size} | {o:.3f} | {c:.3f} | {o / c:.2f} |")


if __name__ == "__main__":
    main()
