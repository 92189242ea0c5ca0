"""Pulls the mouse forelimb's joystick through its 8 muscle excitations (a PD controller in Python)."""
import numpy as np
import neuroloop as nl

MUSCLES = ["Foot1", "Foot2", "Radius1", "Radius2", "Humerus1", "Humerus2", "Humerus3", "Humerus4"]
PULL = np.array([1.0, 0, 0, 0, 0, 1.0, 0, 0])  # Foot1 + Humerus2 pull the grip
PUSH = np.array([0, 0.5, 0, 0.5, 1.0, 0, 0, 0])
LEFT, RIGHT = np.eye(8)[6], np.eye(8)[7]  # Humerus3 / Humerus4 move it to +y / -y
GO = (2, 3, 4)  # task states Armed, Moving, Holding: pull; otherwise return home


class JoystickPd(nl.Engine):
    def __init__(self, ctx: nl.InitContext):
        self.target_mm = ctx.config.get("target_pull_mm", 4.5)
        self.kp, self.kd = ctx.config.get("kp_per_mm", 0.5), ctx.config.get("kd_per_mm_per_s", 0.004)
        self.prev = None

    def ports(self):
        return [nl.Port.input("joystick_position_mm", nl.Analog([("x", "mm"), ("y", "mm")])),
                nl.Port.input("task", nl.Analog([("state", "1"), ("trial", "1"), ("outcome", "1"),
                                                 ("lateral_force_n", "N")])),
                nl.Port.output("excitations", nl.Analog([(m, "1") for m in MUSCLES]))]

    def step(self, t_ms, dt_ms, inputs, outputs):
        pos = np.array(inputs["joystick_position_mm"][:2])
        vel = np.zeros(2) if self.prev is None else (pos - self.prev) / (dt_ms * 1e-3)
        self.prev = pos
        target = self.target_mm if int(inputs["task"][0]) in GO else 0.0
        e = self.kp * (target - pos[0]) - self.kd * vel[0]  # pull error
        el = 0.3 * (0.0 - pos[1]) - 0.003 * vel[1]  # lateral error
        u = 0.02 + max(e, 0) * PULL + max(-e, 0) * PUSH + max(el, 0) * LEFT + max(-el, 0) * RIGHT
        outputs["excitations"] = np.clip(u, 0.0, 1.0)


if __name__ == "__main__":
    nl.main(JoystickPd)
