"""Unit tests of neuroloop.wire (no zenoh needed): round trips, the documented layout, strict decoding.

    PYTHONPATH=bridges/python .venv/bin/python -m unittest discover -s bridges/python/tests -v

tests/python_engine.rs also checks these encodings against the Rust implementation byte for byte.
"""

import unittest

import numpy as np

from neuroloop import wire as w


def all_messages():
    """The same messages as the `all_messages` test helper of crates/core/src/wire.rs."""
    spikes = w.SpikeBatch([3, 7], [0.1, 0.9])
    events = w.EventBatch([1, 3], [2, 4], [0.5, 0.75], [True, False])
    return [
        w.Hello("brain", 42),
        w.Init(0.5, 2, 99, '{"a":1}'),
        w.Ready(
            [
                w.Port.input("drive", w.Analog([("x", "m"), ("v", "m/s")])),
                w.Port.output("spikes", w.Spikes(10)),
                w.Port.output("dvs", w.Events(32, 24)),
                w.Port.input("reward", w.Scalar("1")),
            ],
            [w.DataEntry(1, 0, w.SpikeBatch())],
        ),
        w.Step(
            17,
            3,
            [w.DataEntry(0, 16, np.array([1.0, -2.5])), w.DataEntry(3, 15, 0.25)],
        ),
        w.StepDone(17, 12345, [w.DataEntry(1, 20, spikes), w.DataEntry(2, 20, events)]),
        w.Window(
            20,
            1,
            [[w.DataEntry(0, 18, np.array([3.0, 4.0]))], [], [w.DataEntry(3, 19, -1.0)]],
        ),
        w.WindowDone(20, 99, [[], [w.DataEntry(1, 22, w.SpikeBatch())]]),
        w.Reset(0x0123456789ABCDEF, 3),
        w.Shutdown(),
        w.Bye(),
        w.Error("boom"),
    ]


#: The worked example of docs/protocol.md: Step at step 4, 2 base steps, position x = 0.05 on port 0.
WORKED_STEP_HEX = (
    "4e4c0104 0400000000000000 02000000 0100 0000 02 0400000000000000 01000000 9a9999999999a93f"
)


class WireTest(unittest.TestCase):
    def test_every_message_round_trips(self):
        for m in all_messages():
            self.assertEqual(w.decode(w.encode(m)), m, w.kind_name(m))

    def test_header_layout_is_as_documented(self):
        b = w.encode(w.Step(0x0102, 1, []))
        self.assertEqual(b[0:4], bytes([ord("N"), ord("L"), 1, 4]))
        self.assertEqual(b[4:12], (0x0102).to_bytes(8, "little"))
        self.assertEqual(b[12:16], (1).to_bytes(4, "little"))
        self.assertEqual(b[16:18], b"\0\0")
        self.assertEqual(len(b), 18)

    def test_window_done_from_encoded_steps(self):
        m = w.WindowDone(20, 99, [[], [w.DataEntry(1, 22, w.SpikeBatch())]])
        steps = [w.encode_entries(outs) for outs in m.outputs]
        self.assertEqual(w.encode_window_done(20, 99, steps), w.encode(m))

    def test_worked_example(self):
        m = w.Step(4, 2, [w.DataEntry(0, 4, np.array([0.05]))])
        self.assertEqual(w.encode(m), bytes.fromhex(WORKED_STEP_HEX.replace(" ", "")))

    def test_every_truncation_is_an_error(self):
        for m in all_messages():
            b = w.encode(m)
            for cut in range(len(b)):
                with self.assertRaises(w.WireError, msg=f"{w.kind_name(m)} cut at {cut}"):
                    w.decode(b[:cut])

    def test_corrupted_bytes_raise_only_wire_errors(self):
        for m in all_messages():
            b = w.encode(m)
            for i in range(len(b)):
                for v in range(0, 256, 17):
                    c = bytearray(b)
                    c[i] = v
                    try:
                        w.decode(bytes(c))
                    except w.WireError:
                        pass

    def test_specific_errors(self):
        with self.assertRaisesRegex(w.WireError, "shorter than the 12-byte header"):
            w.decode(b"NL")
        with self.assertRaisesRegex(w.WireError, "magic"):
            w.decode(b"XX\x01\x04" + bytes(8))
        with self.assertRaisesRegex(w.WireError, "version 2"):
            w.decode(b"NL\x02\x04" + bytes(8))
        with self.assertRaisesRegex(w.WireError, "unknown message kind 99"):
            w.decode(b"NL\x01\x63" + bytes(8))
        with self.assertRaisesRegex(w.WireError, "1 unexpected bytes"):
            w.decode(w.encode(w.Bye()) + b"\0")
        # A huge spike count with no data behind it is refused before allocating.
        b = w.encode(w.StepDone(0, 0, []))[:-2]
        b += (1).to_bytes(2, "little") + (0).to_bytes(2, "little") + b"\x01" + bytes(8)
        b += (0xFFFFFFFF).to_bytes(4, "little")
        with self.assertRaisesRegex(w.WireError, "invalid spike count"):
            w.decode(b)

    def test_decoded_arrays_are_writable_copies(self):
        m = w.decode(w.encode(w.Step(0, 1, [w.DataEntry(0, 0, np.array([1.0, 2.0]))])))
        v = m.inputs[0].payload
        self.assertEqual(v.dtype, np.float64)
        v[0] = 5.0  # must not raise (frombuffer alone gives a read-only view)

    def test_check_payload(self):
        self.assertIsNone(w.check_payload(np.zeros(2), w.Analog([("a", "1"), ("b", "1")])))
        self.assertIn("2 values", w.check_payload(np.zeros(2), w.Analog([("a", "1")])))
        self.assertIn("outside the population", w.check_payload(w.SpikeBatch([5], [0.0]), w.Spikes(5)))
        self.assertIn("payload is scalar", w.check_payload(1.0, w.Spikes(5)))


if __name__ == "__main__":
    unittest.main()
