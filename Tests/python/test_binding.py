"""The CPython binding: buffers read in place, outputs, errors that raise
instead of crashing, threads, versions."""
import array
import concurrent.futures
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import simloss


def test_versions_match_and_are_exposed():
    assert simloss.VERSION == simloss.RUNTIME_VERSION == simloss.__version__
    assert "cpu=" in simloss.BUILD_INFO


def test_library_is_bundled_beside_the_extension():
    folder = os.path.dirname(simloss._simloss.__file__)
    assert os.path.exists(os.path.join(folder, "libsimloss.so.1"))


def test_memoryview_and_array_inputs():
    a = array.array("d", [1.0, 2.0, 3.0, 4.0])
    b = array.array("d", [0.0, 0.0, 0.0, 0.0])
    assert simloss.l1(a, b) == 2.5
    assert simloss.mse(memoryview(a), memoryview(b)) == 7.5
    f = array.array("f", [1.0, 2.0])
    assert simloss.l1(f, array.array("f", [1.0, 1.0])) == 0.5


def test_inputs_are_not_copied():
    # A 16 MB input: a copy would show in tracemalloc, which numpy reports to.
    x = np.random.RandomState(0).rand(2, 3, 512, 512).astype(np.float64)
    y = x[:, :, ::-1, :]  # a negative-stride view, still not copied
    tracemalloc.start()
    simloss.mse(x, y)
    simloss.tv(y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024


def test_strided_views_equal_their_copies():
    rng = np.random.RandomState(1)
    base = rng.rand(4, 3, 40, 30)
    view = base[::2, :, 5:35:3, ::-2]
    target = rng.rand(*view.shape)
    for f in (simloss.l1, simloss.mse, simloss.psnr):
        v1, g1 = f(view, target, grad=True)
        v2, g2 = f(np.ascontiguousarray(view), target, grad=True)
        assert v1 == v2 and np.array_equal(g1, g2)


def test_out_is_written_in_place():
    x = np.random.RandomState(2).rand(2, 1, 8, 8).astype(np.float32)
    out = np.full_like(x, 7)
    v, g = simloss.tv(x, grad=True, out=out)
    assert g is out and not np.all(out == 7)
    # A strided out= view.
    big = np.zeros((2, 1, 8, 16), np.float32)
    simloss.tv(x, grad=True, out=big[..., ::2])
    assert np.array_equal(big[..., ::2], out) and np.all(big[..., 1::2] == 0)


def test_nhwc_layout_with_mask():
    rng = np.random.RandomState(3)
    x, y = rng.rand(2, 8, 8, 3), rng.rand(2, 8, 8, 3)
    mask = rng.rand(2, 8, 8, 1)
    got = simloss.l1(x, y, mask=mask, layout="NHWC")
    w = np.broadcast_to(mask, x.shape)
    assert got == pytest.approx((w * np.abs(x - y)).sum() / w.sum(), rel=1e-14)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda: simloss.l1(np.zeros((2, 3), np.int64), np.zeros((2, 3))), TypeError,
         r"pred: element format 'l' \(8 bytes\) is not float32"),
        (lambda: simloss.l1(np.zeros(4, np.float16), np.zeros(4, np.float16)), TypeError,
         r"pred: element format 'e'"),
        (lambda: simloss.mse([1.0, 2.0], [1.0, 2.0]), TypeError,
         r"pred: expected a float32 or float64 array with the buffer protocol .*got list"),
        (lambda: simloss.mse(np.zeros(3), np.zeros(3, np.float32)), TypeError,
         r"target: dtype float32 differs from the call's float64"),
        (lambda: simloss.l1(np.zeros((2, 3)), np.zeros((2, 4))), ValueError,
         r"l1: target: shape \(2, 4\) does not match pred shape \(2, 3\)"),
        (lambda: simloss.l1(np.zeros((2, 3)), np.zeros((2, 3)), mask=-np.ones((2, 3))), ValueError,
         r"weight: element \(0, 0\) is -1.0; weights must be finite and >= 0"),
        (lambda: simloss.l1(np.zeros((2, 3)), np.zeros((2, 3)), reduction="avg"), ValueError,
         r"reduction: 'avg' is not one of 'mean', 'sum', 'none'"),
        (lambda: simloss.tv(np.zeros((1, 1, 2, 2)), kind="total"), ValueError, r"kind: 'total'"),
        (lambda: simloss.tv(np.zeros((1, 1, 2, 2)), layout="CHW"), ValueError, r"layout: 'CHW'"),
        (lambda: simloss.psnr(np.zeros((1, 2)), np.ones((1, 2)), data_range=-1), ValueError,
         r"data_range: -1.0 must be finite and > 0"),
        (lambda: simloss.tv(np.zeros((1, 1, 2, 2)), kind="isotropic", eps=float("nan")), ValueError,
         r"eps: nan must be finite and > 0"),
        (lambda: simloss.tv(np.zeros((0, 1, 2, 2))), ValueError, r"x: dimension 0 of shape \(0, 1, 2, 2\) is 0"),
        (lambda: simloss.l1(np.zeros(()), np.zeros(())), ValueError, r"pred: rank 0 is outside 1...8"),
        (lambda: simloss.tv(np.zeros((1, 1, 2, 2)), grad=True, out=np.zeros((1, 1, 2, 3))), ValueError,
         r"out: shape \(1, 1, 2, 3\) does not match x shape \(1, 1, 2, 2\)"),
        (lambda: simloss.tv(np.zeros((1, 1, 2, 2)), out=np.zeros((1, 1, 2, 2))), ValueError,
         r"out: given without grad=True"),
        (lambda: simloss.l1(np.zeros((2, 2)), np.zeros((2, 2)), grad=True,
                            out=np.frombuffer(bytes(32)).reshape(2, 2)), ValueError,
         r"out: the buffer is read-only"),
        (lambda: simloss.set_num_threads(-2), ValueError, r"num_threads: -2 is outside 0...1024"),
    ],
)
def test_bad_calls_raise_with_the_library_message(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_huge_dimensions_raise():
    # A view of one element with 2^50 elements (numpy allows up to 2^60).
    base = np.zeros(1, np.float32)
    huge = np.lib.stride_tricks.as_strided(base, shape=(2**20, 2**20, 2**10), strides=(0, 0, 0))
    with pytest.raises(ValueError, match=r"pred: shape \(1048576, 1048576, 1024\) has more than 2\^40 elements"):
        simloss.mse(huge, huge)


@pytest.mark.parametrize(
    "call",
    [
        # Two elements per sample (one per sample is summed as one sample).
        lambda big: simloss.l1(*[np.broadcast_to(big[:1], (2**36, 2))] * 2),
        lambda big: simloss.tv(big.reshape(-1, 1, 1, 1)),
        lambda big: simloss.ssim(big.reshape(-1, 1, 1, 1), big.reshape(-1, 1, 1, 1), win_size=1),
        # Rows of two distinct elements: the binary losses merge dimensions
        # that every operand steps through alike, and a view broadcast along
        # all of them needs no memory per sample (it merely takes long).
        lambda big: simloss.binary_cross_entropy_with_logits(*[np.broadcast_to(np.float32([0.5, 2]), (2**36, 2))] * 2),
    ],
    ids=["l1", "tv", "ssim", "bce"],
)
def test_views_larger_than_memory_raise_memory_error(call):
    # 2^36 samples of one broadcast element: one double per sample is
    # 512 GiB. Until 0.1's fix the library aborted the interpreter here.
    big = np.broadcast_to(np.float32(0.5), (2**36,))
    with pytest.raises(MemoryError, match="one sum per sample|SSIM"):
        call(big)


def test_gradient_overlapping_input_raises():
    x = np.random.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match="grad: output memory overlaps input x"):
        simloss.tv(x, grad=True, out=x)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_cross_entropy_gradient_over_its_class_indices_raises(index_dtype):
    # The indices in the same buffer as the gradient: refused before
    # anything is written (this crashed the interpreter at 1000 x 10).
    n, c = 1000, 10
    buffer = np.zeros(n * c + n * 2, np.float32)
    y = buffer.view(index_dtype)[:n]
    y[:] = np.arange(n) % c
    x = np.random.default_rng(0).normal(size=(n, c)).astype(np.float32)
    with pytest.raises(ValueError, match="grad: output memory overlaps input target"):
        simloss.cross_entropy(x, y, grad=True, out=buffer[: n * c].reshape(n, c))
    np.testing.assert_array_equal(y, np.arange(n) % c)


@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_gradient_over_its_class_weights_raises(soft):
    x = np.random.default_rng(1).normal(size=(3, 4))
    y = np.full((3, 4), 0.25) if soft else np.array([2, 0, 3])
    buffer = np.array([[1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="grad: output memory overlaps input weight"):
        simloss.cross_entropy(x, y, weight=buffer[0], grad=True, out=buffer)
    np.testing.assert_array_equal(buffer[0], [1, 2, 3, 4])


def test_ctypes_arrays_are_read_in_place():
    # ctypes exports its arrays with NULL strides (C-contiguous, as the
    # buffer protocol allows) even when strides are asked for: the binding
    # read through that NULL, a crash, for inputs and outputs alike.
    import ctypes
    pred = (ctypes.c_float * 6)(1, 2, 3, 4, 5, 6)
    target = (ctypes.c_float * 6)()
    out = (ctypes.c_float * 6)()
    value, grad = simloss.l1(pred, target, grad=True, out=out)
    assert value == pytest.approx(3.5, rel=1e-7)
    np.testing.assert_array_equal(np.frombuffer(out, np.float32), np.full(6, 1 / 6, np.float32))
    logits = ((ctypes.c_double * 3) * 2)((0.0, 1.0, 2.0), (2.0, 0.0, 0.0))
    labels = (ctypes.c_int64 * 2)(2, 0)
    expected = np.mean([np.log(np.exp([0, 1, 2]).sum()) - 2, np.log(np.exp([2, 0, 0]).sum()) - 2])
    assert simloss.cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-15)


def test_bad_calls_leave_the_interpreter_alive():
    # In a child process, so that a crash (a Swift trap is SIGILL) shows as
    # its exit status instead of ending the test run.
    script = r"""
import numpy as np, simloss
bad = [
    lambda: simloss.l1(np.zeros((2, 3)), np.zeros((3, 2))),
    lambda: simloss.tv(np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**15,) * 4, strides=(0,) * 4)),
    lambda: simloss.mse(np.zeros((1,) * 9), np.zeros((1,) * 9)),
    lambda: simloss.psnr(np.zeros((2, 2)), np.zeros((2, 2)), data_range=float("inf")),
    lambda: simloss.l1(np.zeros(3), np.zeros(3), mask=np.full(3, np.nan)),
    lambda: simloss.tv(np.zeros((1, 1, 1, 1), np.float32), grad=True, out=np.zeros((1, 1, 1, 1))),
]
for f in bad:
    try:
        f()
    except (ValueError, TypeError):
        pass
print("alive")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alive"


def test_forked_child_computes_after_the_parent_did():
    # multiprocessing's fork start method (PyTorch's DataLoader workers on
    # Linux) copies only the calling thread: the child must not wait for
    # the parent's worker threads (test_threads.c checks that it starts its own).
    script = r"""
import os, numpy as np, simloss
simloss.set_num_threads(2)
x = np.random.RandomState(1).rand(8, 3, 64, 64).astype(np.float32)
y = np.random.RandomState(2).rand(8, 3, 64, 64).astype(np.float32)
want = simloss.ssim(x, y, grad=True)
pid = os.fork()
if pid == 0:
    got = simloss.ssim(x, y, grad=True)
    os._exit(0 if got[0] == want[0] and np.array_equal(got[1], want[1]) else 1)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child 0"


def test_threads_calling_at_once_give_serial_results():
    rng = np.random.RandomState(4)
    inputs = [(rng.rand(2, 3, 64, 64).astype(np.float32), rng.rand(2, 3, 64, 64).astype(np.float32))
              for _ in range(8)]

    def work(pair):
        x, y = pair
        return simloss.l1(x, y, grad=True), simloss.tv(x, grad=True)

    serial = [work(p) for p in inputs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(work, inputs * 3))
    for i, got in enumerate(parallel):
        want = serial[i % 8]
        for (v1, g1), (v2, g2) in zip(got, want):
            assert v1 == v2 and np.array_equal(g1, g2)


def test_thread_count_does_not_change_results():
    x = np.random.RandomState(5).rand(8, 3, 96, 96).astype(np.float32)
    y = np.random.RandomState(6).rand(8, 3, 96, 96).astype(np.float32)
    results = []
    try:
        for n in (1, 2, 5):
            simloss.set_num_threads(n)
            assert simloss.get_num_threads() == n
            results.append((simloss.mse(x, y, grad=True), simloss.tv(x, kind="isotropic", grad=True)))
    finally:
        simloss.set_num_threads(0)
    for r in results[1:]:
        for (v1, g1), (v2, g2) in zip(r, results[0]):
            assert v1 == v2 and np.array_equal(g1, g2)


def test_nhwc_layout_needs_rank_4():
    x = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"pred: layout 'NHWC' needs a rank-4 \(N, H, W, C\) array, got shape \(8, 8, 3\)"):
        simloss.psnr(x, x, layout="NHWC")


@pytest.mark.parametrize("call, message", [
    # Truncated to 7 by int() before; a string's error named nothing.
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), win_size=7.9), r"win_size: 7.9 is not an integer"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), data_range="abc"),
     r"data_range: 'abc' is not a real number"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=1.5), r"ignore_index: 1.5 is not an integer"),
    (lambda: simloss.sigmoid_focal_loss(np.zeros(3), np.zeros(3), gamma=None), r"gamma: None is not a real number"),
])
def test_scalar_arguments_of_the_wrong_type_are_named(call, message):
    with pytest.raises(TypeError, match=message):
        call()


_IMAGE = np.zeros((1, 1, 16, 16))


@pytest.mark.parametrize("call, message", [
    # The C API reads 0 as "the default"; Python's defaults are explicit, so
    # these were silently replaced (data_range 0 became 1.0, eps 0 1e-8,
    # win_size 0 11, sigma 0 1.5).
    (lambda: simloss.psnr(_IMAGE, _IMAGE, data_range=0), r"data_range: 0.0 must be finite and > 0"),
    (lambda: simloss.tv(_IMAGE, kind="isotropic", eps=0.0), r"eps: 0.0 must be finite and > 0"),
    (lambda: simloss.ssim(_IMAGE, _IMAGE, data_range=0.0), r"data_range: 0.0 must be finite and > 0"),
    (lambda: simloss.ssim(_IMAGE, _IMAGE, win_size=0), r"win_size: 0 must be an odd size >= 1"),
    (lambda: simloss.ssim(_IMAGE, _IMAGE, sigma=0.0), r"sigma: 0.0 must be finite and > 0"),
    (lambda: simloss.ssim(_IMAGE, _IMAGE, sigma=float("nan")), r"sigma: nan must be finite and > 0"),
    (lambda: simloss.ms_ssim(np.zeros((1, 1, 161, 161)), np.zeros((1, 1, 161, 161)), data_range=-1.0),
     r"data_range: -1.0 must be finite and > 0"),
    (lambda: simloss.ssim3d(np.zeros((1, 1, 11, 11, 11)), np.zeros((1, 1, 11, 11, 11)), win_size=-3),
     r"win_size: -3 must be an odd size >= 1"),
])
def test_explicit_zero_is_not_taken_as_the_c_default(call, message):
    with pytest.raises(ValueError, match=message):
        call()


_NHWC = np.random.default_rng(3).random((2, 20, 21, 3))


@pytest.mark.parametrize("call, exc, message", [
    # float() parsed strings: data_range "255" was taken as 255.
    (lambda: simloss.psnr(_IMAGE, _IMAGE, data_range="255"), TypeError, r"data_range: '255' is not a real number"),
    (lambda: simloss.sigmoid_focal_loss(np.zeros(3), np.zeros(3), alpha="0.5"), TypeError,
     r"alpha: '0.5' is not a real number"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), axis=1.0), TypeError,
     r"axis: 1.0 is not an integer"),
    # An unnamed OverflowError, and "-1 is outside 0...1024" for 2^40.
    (lambda: simloss.ssim(_IMAGE, _IMAGE, data_range=10**400), ValueError, r"data_range: 1000.* is outside the float64 range"),
    (lambda: simloss.set_num_threads(2**40), ValueError, r"num_threads: 1099511627776 is outside the int32 range"),
    # With layout="NHWC" the library saw (N, C, H, W) views and named
    # their permuted shapes, and "grad" for out.
    (lambda: simloss.ssim(_NHWC, _NHWC[:, :, :20], layout="NHWC"), ValueError,
     r"y: shape \(2, 20, 20, 3\) does not match x shape \(2, 20, 21, 3\)"),
    (lambda: simloss.l1(_NHWC, _NHWC, layout="NHWC", grad=True, out=np.empty((2, 3, 20, 21))), ValueError,
     r"out: shape \(2, 3, 20, 21\) does not match pred shape \(2, 20, 21, 3\)"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), [0, 1]), TypeError,
     r"target: expected int32 or int64 class indices or a float32 or float64 array"),
])
def test_python_arguments_are_named_in_the_callers_terms(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


@pytest.mark.parametrize("weight", [2.0, [2.0, 2.0, 2.0]])
def test_binary_weight_given_as_python_numbers_takes_the_logits_dtype(weight):
    # np.asarray made float64 of them, which float32 logits refused.
    x = np.array([[-1.0, 0.5, 3.0]], np.float32)
    y = np.array([[0.0, 1.0, 1.0]], np.float32)
    plain = simloss.binary_cross_entropy_with_logits(x, y)
    assert simloss.binary_cross_entropy_with_logits(x, y, weight=weight) == pytest.approx(2 * plain, rel=1e-7)


def test_arguments_a_kind_ignores_are_not_checked():
    # eps is the isotropic kind's alone and sigma the Gaussian window's: the
    # C API ignores them otherwise, and so does Python (refusing eps=0 for
    # the anisotropic kind broke calls that worked).
    x = np.random.default_rng(5).random((1, 1, 16, 16))
    assert simloss.tv(x, kind="anisotropic", eps=0) == simloss.tv(x, kind="anisotropic")
    assert simloss.ssim(x, x * 0.5, gaussian=False, sigma=0) == simloss.ssim(x, x * 0.5, gaussian=False)
    with pytest.raises(ValueError, match=r"data_range: inf must be finite and > 0"):
        simloss.psnr(x, x, data_range=float("inf"))
