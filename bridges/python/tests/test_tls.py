"""Unit tests of the Python SDK's TLS and lease settings (certificates made by scripts/make_certs.sh,
which needs openssl): the variables, the checks of the files (each mistake names its file), and the
zenoh configuration they give.

    PYTHONPATH=bridges/python .venv/bin/python -m pytest bridges/python/tests -q
"""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from neuroloop.engine import BadConfig, TlsFiles, lease_from_env, zenoh_config

ROOT = Path(__file__).resolve().parents[3]


def make_certs(folder: Path, *engines: str) -> None:
    subprocess.run(
        [str(ROOT / "scripts/make_certs.sh"), str(folder), *engines],
        check=True,
        capture_output=True,
    )


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.run_ca = Path(cls.tmp.name) / "run"
        cls.other_ca = Path(cls.tmp.name) / "other"
        make_certs(cls.run_ca, "plant")
        make_certs(cls.other_ca)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def files(self, ca="run/ca.pem", cert="run/plant.pem", key="run/plant.key") -> TlsFiles:
        base = Path(self.tmp.name)
        return TlsFiles(str(base / ca), str(base / cert), str(base / key))

    def assert_refused(self, tls: TlsFiles, *texts: str) -> None:
        with self.assertRaises(BadConfig) as e:
            tls.check()
        for t in texts:
            self.assertIn(t, str(e.exception))

    def test_good_files_pass(self):
        self.files().check()
        self.files(cert="run/coordinator.pem", key="run/coordinator.key").check()

    def test_each_mistake_names_its_file(self):
        self.assert_refused(self.files(key="run/gone.key"), "gone.key", "cannot be read")
        self.assert_refused(
            self.files(key="run/coordinator.key"), "coordinator.key", "is not the private key"
        )
        self.assert_refused(
            self.files(ca="other/ca.pem"), "plant.pem", "is not accepted with the CA certificate"
        )
        self.assert_refused(self.files(ca="run/ca.key"), "ca.key", "holds no PEM certificate")
        self.assert_refused(self.files(key="run/plant.pem"), "plant.pem", "holds no PEM private key")

    def test_variables(self):
        env = {
            "NEUROLOOP_TLS_CA": "/c/ca.pem",
            "NEUROLOOP_TLS_CERT": "/c/e.pem",
            "NEUROLOOP_TLS_KEY": "/c/e.key",
            "NEUROLOOP_ZENOH_LEASE_MS": "1500",
        }
        with mock.patch.dict(os.environ, env):
            self.assertEqual(TlsFiles.from_env(), TlsFiles("/c/ca.pem", "/c/e.pem", "/c/e.key"))
            self.assertEqual(lease_from_env(), 1500)
        with mock.patch.dict(os.environ, {"NEUROLOOP_TLS_CA": "/c/ca.pem"}):
            for k in ("NEUROLOOP_TLS_CERT", "NEUROLOOP_TLS_KEY"):
                os.environ.pop(k, None)
            with self.assertRaises(BadConfig) as e:
                TlsFiles.from_env()
            self.assertIn("NEUROLOOP_TLS_CERT and NEUROLOOP_TLS_KEY not set", str(e.exception))
        with mock.patch.dict(os.environ, {"NEUROLOOP_ZENOH_LEASE_MS": "2s"}):
            with self.assertRaises(BadConfig):
                lease_from_env()

    def test_zenoh_configuration(self):
        try:
            import zenoh  # noqa: F401
        except ImportError:
            self.skipTest("zenoh is not installed (scripts/setup_python.sh)")
        tls = self.files()
        c = zenoh_config(["tls/127.0.0.1:7447"], lease_ms=1500, tls=tls)
        self.assertEqual(c.get_json("transport/link/tx/lease"), "1500")
        self.assertEqual(c.get_json("transport/link/tls/enable_mtls"), "true")
        self.assertIn("plant.key", c.get_json("transport/link/tls/connect_private_key"))
        with self.assertRaises(BadConfig) as e:
            zenoh_config(["tcp/127.0.0.1:7447"], tls=tls)
        self.assertIn("tls/HOST:PORT", str(e.exception))


if __name__ == "__main__":
    unittest.main()
