"""The cross-entropy family has a second set of kernels compiled for AVX-512
(Sources/SimLossAVX512), in float32 and float64, chosen per process from the
CPU's flags.
Both sets must give bitwise the same values and gradients: each test here
computes every form in two processes, one with the default choice and one
with SIMLOSS_KERNELS=baseline, and compares the bytes."""
import os
import subprocess
import sys

import numpy as np
import pytest

# Every form and layout of the family, options combined; run in a child
# process (the kernel choice is read once per process), results to .npz.
CHILD = r'''
import sys
import numpy as np
import simloss

out = {"info": np.array(simloss.BUILD_INFO)}
def keep(name, result):
    value, grad = result
    out[name + "_value"] = np.asarray(value, dtype=np.float64)
    out[name + "_grad"] = grad

for dt in (np.float32, np.float64):
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((67, 1003)) * 4).astype(dt)
    labels = rng.integers(0, 1003, 67)
    labels[5] = -100
    weight = rng.random(1003).astype(dt)
    keep(f"{dt.__name__}_ce_i64", simloss.cross_entropy(logits, labels, weight=weight, label_smoothing=0.1, grad=True))
    keep(f"{dt.__name__}_ce_i32", simloss.cross_entropy(logits, labels.astype(np.int32), reduction="none", grad=True))
    seg = (rng.standard_normal((2, 21, 37, 45)) * 3).astype(dt)
    seg_labels = rng.integers(0, 21, (2, 37, 45))
    seg_labels[0, 3, :7] = -100
    keep(f"{dt.__name__}_ce_seg", simloss.cross_entropy(seg, seg_labels, label_smoothing=0.05, grad=True))
    keep(f"{dt.__name__}_ce_seg_strided", simloss.cross_entropy(seg[:, :, ::2, 1:], seg_labels[:, ::2, 1:], grad=True))
    last = np.ascontiguousarray(seg.transpose(0, 2, 3, 1))
    keep(f"{dt.__name__}_ce_channels_last", simloss.cross_entropy(last, seg_labels, axis=-1, grad=True))
    soft = rng.random((67, 1003)).astype(dt)
    soft /= soft.sum(1, keepdims=True)
    keep(f"{dt.__name__}_ce_soft", simloss.cross_entropy(logits, soft, weight=weight, grad=True))
    x = (rng.standard_normal((3, 5, 1031)) * 5).astype(dt)
    y = (rng.random(x.shape) > 0.5).astype(dt)
    keep(f"{dt.__name__}_bce_logits", simloss.binary_cross_entropy_with_logits(
        x, y, weight=rng.random(x.shape).astype(dt), pos_weight=rng.random((1, 1, 1031)).astype(dt) * 3,
        grad=True))
    keep(f"{dt.__name__}_bce_logits_flat", simloss.binary_cross_entropy_with_logits(x.reshape(-1), y.reshape(-1), grad=True))
    p = rng.random(x.shape).astype(dt)
    keep(f"{dt.__name__}_bce_probs", simloss.binary_cross_entropy(p, y, reduction="sum", grad=True))
    keep(f"{dt.__name__}_focal", simloss.sigmoid_focal_loss(x, y, alpha=0.3, gamma=1.5, grad=True))
    # From probabilities: NCHW, channels last (staged), many classes.
    q, target = rng.random(seg.shape).astype(dt), rng.random(seg.shape).astype(dt)
    q[0, 0, 0, :3] = 0
    keep(f"{dt.__name__}_probs_seg", simloss.cross_entropy_from_probs(q, target, grad=True))
    q_last, target_last = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (q, target))
    keep(f"{dt.__name__}_probs_last", simloss.cross_entropy_from_probs(
        q_last, target_last, axis=-1, reduction="none", grad=True))
    q_many = rng.random((67, 1003)).astype(dt)
    keep(f"{dt.__name__}_probs_many", simloss.cross_entropy_from_probs(q_many, soft, grad=True))
np.savez(sys.argv[1], **out)
'''


def run_child(path, kernels):
    env = dict(os.environ)
    env.pop("SIMLOSS_KERNELS", None)
    if kernels:
        env["SIMLOSS_KERNELS"] = kernels
    subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, check=True)
    with np.load(path) as results:
        return {k: results[k] for k in results.files}


def test_avx512_kernels_give_the_baseline_results_bitwise(tmp_path):
    chosen = run_child(tmp_path / "default.npz", None)
    baseline = run_child(tmp_path / "baseline.npz", "baseline")
    assert "kernels=baseline" in str(baseline["info"])
    if "kernels=avx512" not in str(chosen["info"]):
        pytest.skip("this CPU has no AVX-512: both processes ran the baseline kernels")
    assert chosen.keys() == baseline.keys()
    for name in chosen:
        if name == "info":
            continue
        a, b = chosen[name], baseline[name]
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), name
