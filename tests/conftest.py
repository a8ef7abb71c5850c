"""Make the collection importable as ``ansible_collections.patchwave.windows`` for pytest.

The Makefile links the checkout into ``.build/collections``; this does the same when pytest is
run by hand, so tests always import the collection the way Ansible does.
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "patchwave", "windows")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

import pytest  # noqa: E402

SHARED = os.environ.get("PATCHWAVE_SHARED") or os.path.join(os.path.dirname(REPO), "shared")


@pytest.fixture(scope="session")
def shared_dir():
    """The ``shared/`` folder beside the checkout (real Microsoft samples, tools)."""
    if not os.path.isdir(os.path.join(SHARED, "catalog_samples")):
        raise RuntimeError("shared/ with catalog_samples/ not found at %s; set PATCHWAVE_SHARED" % SHARED)
    return SHARED


@pytest.fixture(scope="session")
def samples_dir(shared_dir):
    """``shared/catalog_samples``."""
    return os.path.join(shared_dir, "catalog_samples")
