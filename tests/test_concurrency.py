"""Concurrent Run calls on one ovep session: each call must get its own OpenVINO infer request."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from comparison import compare
from sessions import cpu_session, make_session

pytestmark = pytest.mark.usefixtures("ovep_devices")

THREADS, RUNS = 4, 20


def _hammer(sess, make_feeds):
    """THREADS threads, released together, each running RUNS different inputs; returns
    {(thread, run): (feeds, outputs)} and the exceptions raised."""
    results, errors = {}, []
    barrier = threading.Barrier(THREADS)

    def worker(t):
        try:
            barrier.wait()
            for r in range(RUNS):
                feeds = make_feeds(t, r)
                results[(t, r)] = (feeds, sess.run(None, feeds))
        except Exception as e:  # noqa: BLE001 - collected and reported by the test
            errors.append(f"thread {t}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert not any(th.is_alive() for th in threads), "a thread is still running after 300 s (deadlock?)"
    assert not errors, "sess.run failed in a thread:\n" + "\n".join(errors)
    assert len(results) == THREADS * RUNS, f"{len(results)} results, expected {THREADS * RUNS}"
    return results


def test_four_threads_one_session(synthetic_models):
    path = synthetic_models["concurrency_mlp"]
    sess, ref = make_session(path), cpu_session(path)

    def feeds(t, r):
        return {"x": np.random.default_rng(1000 * t + r).standard_normal((8, 512)).astype(np.float32)}

    for (t, r), (f, got) in sorted(_hammer(sess, feeds).items()):
        compare(got, ref.run(None, f), what=f"thread {t} run {r}")


def test_four_threads_different_shapes(synthetic_models):
    # Concurrency and dynamic shapes together: each thread uses its own image size, so per-shape state in
    # ovep is created and used from several threads at once.
    path = synthetic_models["dynamic_cnn"]
    sess, ref = make_session(path), cpu_session(path)
    sizes = [(24, 24), (32, 40), (17, 29), (48, 16)]

    def feeds(t, r):
        h, w = sizes[t]
        return {"image": np.random.default_rng(5000 + 100 * t + r).random((1, 3, h, w), dtype=np.float32)}

    for (t, r), (f, got) in sorted(_hammer(sess, feeds).items()):
        compare(got, ref.run(None, f), names=["features", "logits"], what=f"thread {t} run {r} {sizes[t]}")
