"""The moto version the rig is written against, and the check every patch makes before patching.

scripts/local-cloud installs this version (unless SHIPIT_MOTO_VERSION names another), and each
file in patches/ and models/ calls check() first: the patches replace moto internals, so on any
other moto they refuse to load rather than patch what may have changed. To move to a new moto,
change PATCHES_MOTO, run `scripts/local-cloud --install-only` and `crates/local-cloud/rig/test`, and fix or
drop what the tests show (`crates/local-cloud/rig/test --without PATCH` shows whether moto still needs it).
"""
import importlib.metadata

# 5.2.5: 5.2.0-5.2.4 answer CompleteMultipartUpload with the wrong XML root, which the Rust
# SDK rejects (getmoto/moto#10055).
PATCHES_MOTO = "5.2.5"


def check(patch):
    """Raise unless the installed moto is PATCHES_MOTO; `patch` names the caller."""
    installed = importlib.metadata.version("moto")
    if installed != PATCHES_MOTO:
        raise RuntimeError(
            f"{patch} is written against moto {PATCHES_MOTO}, but moto {installed} is installed: "
            f"check it against moto {installed}, then set PATCHES_MOTO in "
            "crates/local-cloud/rig/moto_version.py and run crates/local-cloud/rig/test")
