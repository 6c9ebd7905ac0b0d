"""How the framework tests compare simloss's results with float64 ones."""
import numpy as np


def assert_close_scaled(actual, expected, *, rtol, atol, err_msg=""):
    """numpy's assert_allclose with the absolute floor ``atol`` taken relative
    to the largest entry of ``expected``, so that the small entries of a
    gradient are compared too (a fixed floor lets every entry below it be
    anything, 0 included)."""
    expected = np.asarray(expected)
    largest = np.abs(expected).max(initial=0)
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, err_msg=err_msg,
                               rtol=rtol, atol=atol * largest)
