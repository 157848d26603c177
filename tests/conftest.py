import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """The user's cache folder (optbench/_cache.py) is left alone: tests get their own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPTBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("optbench-cache")))
        yield
