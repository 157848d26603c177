"""Data the problems train on: bundled with scikit-learn, or read from a path the user gives.

Nothing is downloaded. scikit-learn's bundled CSV files are read straight from its package folder,
which costs ~0.15 s instead of the ~1.5 s of importing scikit-learn.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from optbench.errors import DataError


def _sklearn_data(filename: str) -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("scikit-learn is not installed; it provides the bundled datasets")
    return Path(spec.submodule_search_locations[0], "datasets", "data", filename)


@cache
def _digits() -> np.ndarray:
    table = np.loadtxt(_sklearn_data("digits.csv.gz"), delimiter=",")
    return table[:, :-1] / 16.0  # 1,797 images of 8x8 pixels in 0..16; the last column is the label


def digits(samples: int | None = None) -> np.ndarray:
    """scikit-learn's 8x8 handwritten digits as a C-contiguous (64, m) array in [0, 1]."""
    images = _take(_digits(), samples, "scikit-learn's digits")
    return np.ascontiguousarray(images.T)


@cache
def diabetes() -> np.ndarray:
    """scikit-learn's diabetes features (442 patients x 10), standardised per column."""
    table = np.loadtxt(_sklearn_data("diabetes_data_raw.csv.gz"))
    return (table - table.mean(axis=0)) / table.std(axis=0)


def _open(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST's format, gzipped or not) as an array of its stored dtype and shape."""
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    path = _existing(path)
    with _open(path) as f:
        magic = f.read(4)
        if len(magic) != 4 or magic[:2] != b"\0\0" or magic[2] not in dtypes:
            raise DataError(
                f"{path}: not an IDX file (bad magic number {magic.hex()}); images must be an "
                "IDX file (gzipped or not) or an .npz archive"
            )
        ndim = magic[3]
        shape = tuple(int.from_bytes(f.read(4), "big") for _ in range(ndim))
        data = np.frombuffer(f.read(), dtype=dtypes[magic[2]])
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: IDX header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def images(path: str | Path, samples: int | None = None) -> np.ndarray:
    """Images from an IDX file (bytes scaled by 1/255) or an .npz (its first array), as (pixels, m).

    Every image is flattened; values must lie in [0, 1] after scaling (the autoencoder's sigmoid
    output cannot reach values outside it).
    """
    path = _existing(path)
    if path.suffix == ".npz":
        with np.load(path) as archive:
            if not archive.files:
                raise DataError(f"{path}: the .npz archive holds no array")
            raw = archive[archive.files[0]]
    else:
        raw = read_idx(path)
    if raw.ndim < 2:
        raise DataError(f"{path}: expected images (at least 2-D), got shape {raw.shape}")
    raw = _take(raw, samples, str(path))
    _check_finite(path, raw)
    x = raw.reshape(raw.shape[0], -1).astype(float)
    if raw.dtype == np.uint8 or raw.dtype == np.dtype(">u1"):
        x /= 255.0
    if x.size == 0 or x.min() < 0 or x.max() > 1:
        raise DataError(f"{path}: pixel values must lie in [0, 1] (or be bytes 0..255)")
    return np.ascontiguousarray(x.T)


def matrix(path: str | Path) -> np.ndarray:
    """A 2-D numeric table from .npy or .csv (comma-separated, no header), as float64."""
    path = _existing(path)
    try:
        x = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=2)
        x = np.asarray(x, dtype=float)  # a .npy of strings fails here, not in the first product
    except ValueError as e:
        raise DataError(f"{path}: not a numeric table ({e})") from None
    if x.ndim != 2 or min(x.shape) < 1:
        raise DataError(f"{path}: expected a 2-D table (samples x features), got shape {x.shape}")
    _check_finite(path, x)
    return x


def _take(images: np.ndarray, samples: int | None, source: str) -> np.ndarray:
    """The first ``samples`` images (rows); asking for more than there are is an error."""
    if samples is None:
        return images
    if samples > images.shape[0]:
        raise DataError(
            f"parameter 'samples' is {samples} but {source} holds only {images.shape[0]} images",
            "samples",
        )
    return images[:samples]


def _check_finite(path: Path, x: np.ndarray) -> None:
    # NaN passes every range test (NaN < 0 is False) and then poisons the whole objective
    if x.dtype.kind not in "fc":  # integers are always finite; skip the pass over MNIST's bytes
        return
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{path}: contains non-finite values ({int(bad.sum())} of {x.size}, "
            f"the first at index {first})"
        )


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist")
    return path


def from_path(owner: str, reader, path, *args):
    """``reader(path, *args)`` with errors that name the problem and its ``data`` parameter."""
    try:
        return reader(path, *args)
    except DataError as e:
        if e.param is not None:  # the message already names its parameter
            raise DataError(f"{owner}: {e}", e.param) from None
        raise DataError(f"{owner}: parameter 'data': {e}", "data") from None
