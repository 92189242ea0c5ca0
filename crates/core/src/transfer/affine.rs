//! `affine`: a linear readout across channels, y = W x + b.

use serde::Deserialize;

use super::{analog_out, value_input, values_of, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{Channel, PortKind};

const NAME: &str = "affine";

/// `{ kind = "affine", weights = [[0.5, -0.2, 1.0]], bias = [0.3], names = ["x"], unit = "mm" }`.
///
/// analog[C] (or scalar, C = 1) -> analog[R]: y_r = sum_c weights[r][c] * x_c + bias[r], one row of
/// `weights` (C numbers) per output channel. A linear readout, e.g. a position decoded from the rates
/// of several afferent groups (where `linear` scales each channel on its own).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Affine {
    /// One row per output channel, one number per input channel.
    pub weights: Vec<Vec<f64>>,
    /// One number per output channel (default 0).
    #[serde(default)]
    pub bias: Option<Vec<f64>>,
    /// Output channel names, one per row (default `y0`, `y1`, ...).
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// Unit of the output channels (default `1`).
    #[serde(default)]
    pub unit: Option<String>,
}

impl Affine {
    /// The bias of each row, checked against the rows and the input's `c` channels.
    fn checked(&self, c: usize) -> Result<Vec<f64>, String> {
        let r = self.weights.len();
        if r == 0 {
            return Err("affine: `weights` needs at least one row".into());
        }
        for (i, row) in self.weights.iter().enumerate() {
            if row.len() != c {
                return Err(format!(
                    "affine: row {i} of `weights` has {} numbers, the input has {c} channels",
                    row.len()
                ));
            }
            if row.iter().any(|w| !w.is_finite()) {
                return Err(format!("affine: row {i} of `weights` must be finite"));
            }
        }
        let bias = self.bias.clone().unwrap_or_else(|| vec![0.0; r]);
        if bias.len() != r {
            return Err(format!(
                "affine: `bias` has {} numbers, `weights` has {r} rows",
                bias.len()
            ));
        }
        if bias.iter().any(|b| !b.is_finite()) {
            return Err("affine: `bias` must be finite".into());
        }
        if let Some(names) = &self.names {
            if names.len() != r {
                return Err(format!(
                    "affine: `names` has {} names, `weights` has {r} rows",
                    names.len()
                ));
            }
        }
        Ok(bias)
    }
}

impl TransferKind for Affine {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let c = value_input(NAME, input)?;
        self.checked(c)?;
        let unit = self.unit.clone().unwrap_or_else(|| "1".into());
        Ok(PortKind::Analog {
            channels: (0..self.weights.len())
                .map(|r| Channel {
                    name: match &self.names {
                        Some(n) => n[r].clone(),
                        None => format!("y{r}"),
                    },
                    unit: unit.clone(),
                })
                .collect(),
        })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let c = value_input(NAME, input)?;
        let bias = self.checked(c)?;
        Ok(Box::new(Running {
            weights: self.weights.concat(),
            bias,
            inputs: c,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    /// Row-major, `bias.len()` rows of `inputs`.
    weights: Vec<f64>,
    bias: Vec<f64>,
    inputs: usize,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let Some(x) = values_of(input, self.inputs) else {
            return;
        };
        let y = analog_out(out, self.bias.len());
        for (r, (yr, b)) in y.iter_mut().zip(&self.bias).enumerate() {
            let row = &self.weights[r * self.inputs..(r + 1) * self.inputs];
            *yr = b + row.iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>();
        }
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::PortKind;
    use crate::transfer::{Transfer, TransferSpec};

    fn spec(text: &str) -> TransferSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn rows_are_dot_products_plus_bias() {
        let s = spec(
            "kind = \"affine\"\nweights = [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]\nbias = [0.5, 1.0]\nnames = [\"a\", \"b\"]\nunit = \"mm\"",
        );
        let input = PortKind::analog(&[("p", "Hz"), ("q", "Hz"), ("r", "Hz")]);
        let mut t = Transfer::new(&s, &input, 0).unwrap();
        assert_eq!(
            t.output_kind(),
            &PortKind::analog(&[("a", "mm"), ("b", "mm")])
        );
        let mut out = Payload::empty_for(t.output_kind());
        t.apply(&Payload::Analog(vec![1.0, 1.0, 2.0]), 0.0, 1.0, &mut out);
        // a = 1 + 2 + 6 + 0.5, b = -1 + 1 + 1.
        assert_eq!(out, Payload::Analog(vec![9.5, 1.0]));
        // A scalar is one channel.
        let s1 = spec("kind = \"affine\"\nweights = [[2.0]]");
        let mut t1 = Transfer::new(&s1, &PortKind::Scalar { unit: "m".into() }, 0).unwrap();
        assert_eq!(t1.output_kind(), &PortKind::analog(&[("y0", "1")]));
        let mut out1 = Payload::empty_for(t1.output_kind());
        t1.apply(&Payload::Scalar(-1.5), 0.0, 1.0, &mut out1);
        assert_eq!(out1, Payload::Analog(vec![-3.0]));
    }

    #[test]
    fn shapes_that_do_not_fit_are_explained() {
        let input = PortKind::analog(&[("p", "Hz"), ("q", "Hz")]);
        let err = |text: &str| spec(text).output_kind(&input).unwrap_err();
        assert!(err("kind = \"affine\"\nweights = [[1.0]]").contains("row 0 of `weights` has 1"));
        assert!(err("kind = \"affine\"\nweights = []").contains("at least one row"));
        assert!(
            err("kind = \"affine\"\nweights = [[1.0, 2.0]]\nbias = [1.0, 2.0]")
                .contains("`bias` has 2")
        );
        assert!(err("kind = \"affine\"\nweights = [[1.0, 2.0]]\nnames = []").contains("`names`"));
        assert!(err("kind = \"affine\"\nweights = [[1.0, nan]]").contains("finite"));
        assert!(spec("kind = \"affine\"\nweights = [[1.0]]")
            .output_kind(&PortKind::Spikes { size: 1 })
            .unwrap_err()
            .contains("analog or scalar"));
        // A payload of the wrong length leaves the output alone.
        let s = spec("kind = \"affine\"\nweights = [[1.0, 1.0]]");
        let mut t = Transfer::new(&s, &input, 0).unwrap();
        let mut out = Payload::Analog(vec![7.0]);
        t.apply(&Payload::Analog(vec![1.0]), 0.0, 1.0, &mut out);
        assert_eq!(out, Payload::Analog(vec![7.0]));
    }
}
