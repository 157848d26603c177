"""Reading user data files: non-finite values, too few images, the wrong format."""

import gzip
import re

import numpy as np
import pytest

from optbench import problems
from optbench.problems.datasets import DataError


def _idx(values: np.ndarray, code: int, dtype: str) -> bytes:
    """An IDX file written by hand: 0, 0, type code, ndim, big-endian sizes, big-endian data."""
    header = bytes([0, 0, code, values.ndim]) + b"".join(
        n.to_bytes(4, "big") for n in values.shape
    )
    return header + values.astype(dtype).tobytes()


def _raises(needle: str, name: str, **params) -> DataError:
    with pytest.raises(DataError, match=re.escape(needle)) as err:
        problems.make(name, **params)
    return err.value


def test_group_lasso_refuses_nan_and_inf_in_npy(tmp_path, rng):
    X = rng.normal(size=(5, 3))
    X[2, 1], X[4, 0] = np.nan, -np.inf
    path = tmp_path / "x.npy"
    np.save(path, X)
    err = _raises(
        f"group_lasso: parameter 'data': {path}: contains non-finite values "
        "(2 of 15, the first at index (2, 1))",
        "group_lasso", data={"path": str(path)},
    )
    assert err.param == "data"


def test_group_lasso_refuses_nan_and_inf_in_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2\n3,inf\nnan,4\n")  # np.loadtxt reads both words as floats
    _raises(f"{path}: contains non-finite values (2 of 6, the first at index (1, 1))",
            "group_lasso", data={"path": str(path)})


def test_group_lasso_refuses_a_npy_of_strings(tmp_path):
    path = tmp_path / "words.npy"
    np.save(path, np.array([["a", "b"], ["c", "d"]]))
    _raises(f"group_lasso: parameter 'data': {path}: not a numeric table", "group_lasso",
            data={"path": str(path)})


def test_autoencoder_refuses_nan_in_npz(tmp_path, rng):
    images = rng.uniform(0, 1, (4, 2, 3))
    images[1, 0, 2] = np.nan  # NaN < 0 and NaN > 1 are both False: the range test lets it by
    path = tmp_path / "im.npz"
    np.savez(path, images)
    _raises(f"autoencoder: parameter 'data': {path}: contains non-finite values "
            "(1 of 24, the first at index (1, 0, 2))", "autoencoder", data={"path": str(path)})
    # only the images used are read: the first one alone is clean
    p = problems.make("autoencoder", data={"path": str(path)}, samples=1)
    assert np.array_equal(p.x, images[0].reshape(6, 1))


@pytest.mark.parametrize("zipped", [False, True])
def test_autoencoder_refuses_inf_in_float_idx(tmp_path, zipped):
    images = np.full((3, 2, 2), 0.25)
    images[2, 1, 0] = np.inf
    raw = _idx(images, 0x0D, ">f4")
    path = tmp_path / "im.idx"
    path.write_bytes(gzip.compress(raw) if zipped else raw)
    _raises(f"{path}: contains non-finite values (1 of 12, the first at index (2, 1, 0))",
            "autoencoder", data={"path": str(path)})
    p = problems.make("autoencoder", data={"path": str(path)}, samples=2)
    assert p.x.shape == (4, 2) and (p.x == 0.25).all()


def test_byte_idx_is_scaled(tmp_path):
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # 51 / 255 = 0.2
    path = tmp_path / "im.idx"
    path.write_bytes(_idx(images, 0x08, ">u1"))
    p = problems.make("autoencoder", data={"path": str(path)})
    assert p.x[:, 0].tolist() == pytest.approx([0.0, 1.0, 0.2, 0.4], rel=1e-15)


def test_samples_beyond_the_file_is_an_error(tmp_path, rng):
    path = tmp_path / "im.npz"
    np.savez(path, rng.uniform(0, 1, (7, 6)))
    err = _raises(f"autoencoder: parameter 'samples' is 8 but {path} holds only 7 images",
                  "autoencoder", data={"path": str(path)}, samples=8)
    assert err.param == "samples"  # so the YAML validation points at samples, not data
    assert problems.make("autoencoder", data={"path": str(path)}, samples=7).m == 7


def test_samples_beyond_the_digits_is_an_error():
    # scikit-learn's digits data set holds 1,797 images
    err = _raises("parameter 'samples' is 1798 but scikit-learn's digits holds only 1797 images",
                  "autoencoder", samples=1798)
    assert err.param == "samples"
    assert problems.make("autoencoder", hidden=2, samples=1797).m == 1797


def test_npy_given_to_the_autoencoder_says_what_is_expected(tmp_path):
    path = tmp_path / "im.npy"
    np.save(path, np.zeros((3, 4)))
    _raises(f"autoencoder: parameter 'data': {path}: not an IDX file (bad magic number 934e554d); "
            "images must be an IDX file (gzipped or not) or an .npz archive",
            "autoencoder", data={"path": str(path)})
