"""Every kernel reads and writes only inside the buffers it is given.

Each operand is placed against an unreadable page (PROT_NONE), either
ending at it or starting after it, so that a kernel that touches a byte
past either end faults instead of reading a neighbour's memory and, most
often, still computing the right numbers. The shapes are the ones whose
loops have tails: rows cut into 512 positions and a shorter last row,
1024-element chunks with a tail, class counts that are not a vector's
width. (A fault here ends the pytest process; faulthandler names the test.)
"""
import ctypes
import mmap

import numpy as np
import pytest

import simloss

PAGE = mmap.PAGESIZE
PROT_NONE = 0  # <sys/mman.h>; the mmap module exports only PROT_READ and PROT_WRITE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
# Mappings stay alive for the whole session: arrays point into them.
_keep = []


def guarded(values, at_end):
    """A copy of `values` (C-contiguous) ending just before an unreadable
    page (at_end) or starting just after one."""
    values = np.ascontiguousarray(values)
    pages = (values.nbytes + PAGE - 1) // PAGE
    mm = mmap.mmap(-1, (pages + 2) * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    guard = base + (pages + 1) * PAGE if at_end else base
    assert _libc.mprotect(guard, PAGE, PROT_NONE) == 0, ctypes.get_errno()
    _keep.append(mm)
    offset = (pages + 1) * PAGE - values.nbytes if at_end else PAGE
    out = np.frombuffer(mm, dtype=values.dtype, count=values.size, offset=offset).reshape(values.shape)
    out[...] = values
    return out


def empty_guarded(like, at_end):
    return guarded(np.zeros_like(like), at_end)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    before = simloss.get_num_threads()
    simloss.set_num_threads(request.param)
    yield
    simloss.set_num_threads(before)


AT = pytest.mark.parametrize("at_end", [True, False], ids=["end", "start"])
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64])


@AT
@DTYPES
@pytest.mark.parametrize("shape, axis", [
    ((2, 4, 1031), 1),            # rows of 512, 512, 7 per sample
    ((3, 21, 100003), 1),         # streamed gradient, ragged rows
    ((4099, 3), 1),               # few classes, class-contiguous
    ((4099, 21), 1),              # one position at a time
    ((2, 33, 17, 21), -1),        # channels last
    ((37, 1000), 1),
])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_stays_in_bounds(threads, at_end, dtype, shape, axis, soft):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(0, 3, size=shape).astype(dtype)
    classes = shape[axis]
    if soft:
        t = rng.random(shape).astype(dtype)
        t /= t.sum(axis=axis, keepdims=True)
    else:
        t = rng.integers(0, classes, size=np.delete(np.array(shape), axis % len(shape)))
    gx, gt = guarded(x, at_end), guarded(t, at_end)
    w = guarded(rng.uniform(0.5, 1.5, classes).astype(dtype), at_end)
    g = empty_guarded(x, at_end)
    for kwargs in [{}, dict(weight=w, label_smoothing=0.1)]:
        value, _ = simloss.cross_entropy(gx, gt, axis=axis, grad=True, out=g, **kwargs)
        expected, expected_grad = simloss.cross_entropy(x, t, axis=axis, grad=True, **kwargs)
        assert value == expected
        np.testing.assert_array_equal(g, expected_grad)
        per = simloss.cross_entropy(gx, gt, axis=axis, reduction="none", **kwargs)
        np.testing.assert_array_equal(per, simloss.cross_entropy(x, t, axis=axis, reduction="none", **kwargs))


@AT
@DTYPES
@pytest.mark.parametrize("shape, axis", [
    ((4099, 37), 1), ((3, 7, 13, 29), 1), ((3, 9, 31), -1),
    ((4099, 3), 1), ((2, 9, 5), -1),  # staged, 2-7 classes copied by loops of their own
])
def test_cross_entropy_from_probs_stays_in_bounds(threads, at_end, dtype, shape, axis):
    rng = np.random.default_rng(11)
    q = rng.random(shape).astype(dtype)
    q /= q.sum(axis=axis, keepdims=True)
    p = rng.random(shape).astype(dtype)
    p /= p.sum(axis=axis, keepdims=True)
    gq, gp = guarded(q, at_end), guarded(p, at_end)
    g = empty_guarded(q, at_end)
    for reduction in ["mean", "none"]:
        value, _ = simloss.cross_entropy_from_probs(gq, gp, axis=axis, reduction=reduction, grad=True, out=g)
        expected, expected_grad = simloss.cross_entropy_from_probs(q, p, axis=axis, reduction=reduction, grad=True)
        np.testing.assert_array_equal(value, expected)
        np.testing.assert_array_equal(g, expected_grad)

@AT
@DTYPES
@pytest.mark.parametrize("shape", [(1025,), (3, 7, 129), (4, 1), (2, 3, 1024)])
def test_binary_losses_stay_in_bounds(threads, at_end, dtype, shape):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 4, size=shape).astype(dtype)
    y = (rng.random(shape) < 0.5).astype(dtype)
    p = rng.random(shape).astype(dtype)
    w = rng.uniform(0.5, 2, size=shape).astype(dtype)
    gx, gy, gp, gw = (guarded(a, at_end) for a in (x, y, p, w))
    g = empty_guarded(x, at_end)
    for reduction in ["mean", "sum", "none"]:
        for call, a, ga, kwargs, gkwargs in [
            (simloss.binary_cross_entropy_with_logits, x, gx, {}, {}),
            (simloss.binary_cross_entropy_with_logits, x, gx, dict(weight=w), dict(weight=gw)),
            (simloss.binary_cross_entropy, p, gp, {}, {}),
            (simloss.sigmoid_focal_loss, x, gx, {}, {}),
        ]:
            value, _ = call(ga, gy, reduction=reduction, grad=True, out=g, **gkwargs)
            expected, expected_grad = call(a, y, reduction=reduction, grad=True, **kwargs)
            np.testing.assert_array_equal(value, expected)
            np.testing.assert_array_equal(g, expected_grad)


@AT
@DTYPES
@pytest.mark.parametrize("shape", [(1025,), (2, 3, 5, 7), (2, 1, 33, 37)])
def test_pointwise_losses_stay_in_bounds(threads, at_end, dtype, shape):
    rng = np.random.default_rng(6)
    a, b = rng.random(shape).astype(dtype), rng.random(shape).astype(dtype)
    ga, gb = guarded(a, at_end), guarded(b, at_end)
    g = empty_guarded(a, at_end)
    for call in [simloss.l1, simloss.mse]:
        value, _ = call(ga, gb, reduction="sum", grad=True, out=g)
        expected, expected_grad = call(a, b, reduction="sum", grad=True)
        assert value == expected
        np.testing.assert_array_equal(g, expected_grad)


@AT
@pytest.mark.parametrize("shape", [(1, 1, 11, 11), (2, 3, 37, 41)])
def test_ssim_and_tv_stay_in_bounds(threads, at_end, shape):
    rng = np.random.default_rng(7)
    a = rng.random(shape).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
    ga, gb = guarded(a, at_end), guarded(b, at_end)
    g = empty_guarded(a, at_end)
    value, _ = simloss.ssim(ga, gb, grad=True, out=g)
    expected, expected_grad = simloss.ssim(a, b, grad=True)
    assert value == expected
    np.testing.assert_array_equal(g, expected_grad)
    value, _ = simloss.tv(ga, grad=True, out=g)
    expected, expected_grad = simloss.tv(a, grad=True)
    assert value == expected
    np.testing.assert_array_equal(g, expected_grad)
