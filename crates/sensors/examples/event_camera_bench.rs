//! Benchmark of the event camera: a camera watching a moving two-segment arm with a paw over a checkered
//! table and a striped wall, rendered at a fixed rate; prints simulated seconds per wall-clock second and
//! events per second. Run in release: `cargo run --release -p neuroloop-sensors --example
//! event_camera_bench -- --help`.

use std::f64::consts::{PI, TAU};
use std::time::Instant;

use neuroloop_core::engine::{Engine, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::payload::Payload;
use neuroloop_core::time::Step;
use neuroloop_sensors::camera::EventCamera;

const HELP: &str = "event_camera_bench: times the event camera on a moving arm.

Options (defaults in brackets):
  --width N          sensor width in pixels [128]
  --height N         sensor height in pixels [128]
  --seconds S        simulated seconds [2]
  --render-dt-ms D   render interval in ms (1 = 1 kHz) [1]
  --supersampling K  rays per pixel along each axis [1]
  --adaptive         adaptive render rate (render-dt-ms is the longest interval, 1/16 of it the shortest)
  --motion           motion-based render rate (render-dt-ms the longest interval, 1/16 of it the shortest,
                     at most 0.5 pixel of motion per interval)
  --jitter           add camera tremor (0.1 deg, 30 Hz): the static background then produces events too
  --microsaccades    add micro-saccades instead (0.25 deg, 1.5 Hz, 20 ms, with drift)
  --help             this text";

struct Args {
    width: u16,
    height: u16,
    seconds: f64,
    render_dt_ms: f64,
    supersampling: u32,
    adaptive: bool,
    motion: bool,
    jitter: bool,
    microsaccades: bool,
}

fn parse() -> Result<Option<Args>, String> {
    let mut a = Args {
        width: 128,
        height: 128,
        seconds: 2.0,
        render_dt_ms: 1.0,
        supersampling: 1,
        adaptive: false,
        motion: false,
        jitter: false,
        microsaccades: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--width" => {
                a.width = value("--width")?
                    .parse()
                    .map_err(|e| format!("--width: {e}"))?
            }
            "--height" => {
                a.height = value("--height")?
                    .parse()
                    .map_err(|e| format!("--height: {e}"))?
            }
            "--seconds" => {
                a.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--render-dt-ms" => {
                a.render_dt_ms = value("--render-dt-ms")?
                    .parse()
                    .map_err(|e| format!("--render-dt-ms: {e}"))?
            }
            "--supersampling" => {
                a.supersampling = value("--supersampling")?
                    .parse()
                    .map_err(|e| format!("--supersampling: {e}"))?
            }
            "--adaptive" => a.adaptive = true,
            "--motion" => a.motion = true,
            "--jitter" => a.jitter = true,
            "--microsaccades" => a.microsaccades = true,
            other => return Err(format!("unknown option {other}; see --help")),
        }
    }
    Ok(Some(a))
}

/// Pose (x, y, z, qw, qx, qy, qz) of a segment centred at `c` whose local z axis points along the
/// direction at angle `psi` in the x-z plane (psi = 0: up).
fn segment(c: [f64; 3], psi: f64) -> [f64; 7] {
    [
        c[0],
        c[1],
        c[2],
        (psi / 2.0).cos(),
        0.0,
        (psi / 2.0).sin(),
        0.0,
    ]
}

/// Humerus, radius and paw poses at `t` s: shoulder swinging at 1.5 Hz, elbow at 2 Hz.
fn arm(t: f64) -> Vec<f64> {
    let (l1, l2) = (0.08, 0.07);
    let s = [0.0, 0.0, 0.1];
    let psi1 = PI - 0.5 + 0.4 * (TAU * 1.5 * t).sin();
    let psi2 = psi1 - 0.9 - 0.5 * (TAU * 2.0 * t).sin();
    let dir = |p: f64| [p.sin(), 0.0, p.cos()];
    let (u1, u2) = (dir(psi1), dir(psi2));
    let along =
        |o: [f64; 3], u: [f64; 3], l: f64| [o[0] + u[0] * l, o[1] + u[1] * l, o[2] + u[2] * l];
    let elbow = along(s, u1, l1);
    let wrist = along(elbow, u2, l2);
    [
        segment(along(s, u1, l1 / 2.0), psi1),
        segment(along(elbow, u2, l2 / 2.0), psi2),
        segment(along(wrist, u2, 0.01), psi2),
    ]
    .concat()
}

fn main() {
    let args = match parse() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return;
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut render = serde_json::json!({ "dt_ms": args.render_dt_ms });
    if args.adaptive || args.motion {
        render = serde_json::json!({ "mode": if args.adaptive { "adaptive" } else { "motion" },
                                     "dt_ms": args.render_dt_ms, "min_dt_ms": args.render_dt_ms / 16.0 });
    }
    let mut config = serde_json::json!({
        "width": args.width, "height": args.height, "supersampling": args.supersampling,
        "camera": { "position_m": [0.0, -0.3, 0.12], "look_at_m": [0.0, 0.0, 0.06], "fov_deg": 60.0 },
        "scene": {
            "bodies": ["humerus", "radius", "paw"],
            "planes": [
                { "name": "table", "point_m": [0.0, 0.0, 0.0], "normal": [0.0, 0.0, 1.0], "reflectance": 0.4,
                  "texture": { "type": "checker", "period_m": 0.02, "contrast": 0.3 } },
                { "name": "wall", "point_m": [0.0, 0.2, 0.0], "normal": [0.0, -1.0, 0.0], "reflectance": 0.6,
                  "texture": { "type": "stripes", "period_m": 0.03, "contrast": 0.5, "axis": 0 } }
            ],
            "objects": [
                { "name": "humerus", "body": "humerus", "reflectance": 0.8,
                  "shape": { "type": "capsule", "radius_m": 0.012, "half_height_m": 0.04 } },
                { "name": "radius", "body": "radius", "reflectance": 0.7,
                  "shape": { "type": "capsule", "radius_m": 0.01, "half_height_m": 0.035 } },
                { "name": "paw", "body": "paw", "reflectance": 0.9,
                  "texture": { "type": "checker", "period_m": 0.005, "contrast": 0.3 },
                  "shape": { "type": "box", "half_extents_m": [0.012, 0.008, 0.01] } },
                { "name": "joystick", "reflectance": 0.3, "position_m": [0.06, 0.02, 0.03],
                  "shape": { "type": "cylinder", "radius_m": 0.004, "half_height_m": 0.03 } }
            ]
        },
        "render": render
    });
    if args.jitter {
        config["jitter"] = serde_json::json!({ "amplitude_deg": 0.1, "frequency_hz": 30.0 });
    }
    if args.microsaccades {
        config["jitter"] = serde_json::json!({ "kind": "microsaccades", "amplitude_deg": 0.25 });
    }
    let ctx = InitContext {
        name: "camera".into(),
        config,
        seed: 1,
        base_step_ms: 1.0,
        period: 1,
        episode: 0,
    };
    let mut cam = match EventCamera::new(&ctx) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let ports = cam.ports();
    let (mut inputs, mut outputs) = (Inputs::for_ports(&ports), Outputs::for_ports(&ports));
    let steps = (args.seconds * 1000.0).round() as u64;
    let (mut events, mut on) = (0usize, 0usize);
    let start = Instant::now();
    for k in 0..steps {
        inputs.begin_step();
        if let Err(e) = inputs.set(0, Payload::Analog(arm(k as f64 * 1e-3)), Some(Step(k))) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        outputs.begin_step();
        let c = StepContext {
            step: Step(k),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        if let Err(e) = cam.step(&c, &inputs, &mut outputs) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        let b = outputs.events_mut(1);
        events += b.len();
        on += b.polarity.iter().filter(|&&p| p).count();
    }
    let wall = start.elapsed().as_secs_f64();
    let sim = steps as f64 * 1e-3;
    println!(
        "{}x{} camera, supersampling {}, render {} ({} renders = {:.0} Hz), {:.1} s simulated",
        args.width,
        args.height,
        args.supersampling,
        if args.adaptive {
            "adaptive"
        } else if args.motion {
            "motion"
        } else {
            "fixed"
        },
        cam.renders(),
        cam.renders() as f64 / sim,
        sim
    );
    println!("wall time             {wall:.3} s");
    println!("simulated s / wall s  {:.2}", sim / wall);
    println!("events                {events} ({on} ON)");
    println!("events / simulated s  {:.0}", events as f64 / sim);
    println!("events / wall s       {:.0}", events as f64 / wall);
}
