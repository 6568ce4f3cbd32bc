"""moto_version.py: every patch refuses to patch a moto it was not written against."""
import importlib
import unittest
from unittest import mock

from rig import moto_version
from rig.patches import PATCHES


class MotoVersion(unittest.TestCase):
    def test_installed_moto_is_the_pinned_one(self):
        moto_version.check("this test")

    def test_every_patch_checks_before_patching(self):
        with mock.patch.object(moto_version.importlib.metadata, "version", return_value="9.9.9"):
            for name in PATCHES:
                patch = importlib.import_module(f"rig.patches.{name}")
                with self.assertRaises(RuntimeError, msg=name) as raised:
                    patch.apply()
                message = str(raised.exception)
                self.assertIn(f"rig.patches.{name}", message)
                self.assertIn(f"moto {moto_version.PATCHES_MOTO}", message)
                self.assertIn("moto 9.9.9", message)
