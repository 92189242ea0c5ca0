//! Chains: the `transfer` of a link, one table or a list of tables applied in order.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Transfer, TransferSpec};
use crate::payload::Payload;
use crate::port::PortKind;

/// The `transfer` of a link as written: `transfer = { kind = ... }` (one step) or
/// `transfer = [ { kind = ... }, { kind = ... } ]` (a chain; the output of step k is the input of step
/// k + 1). An empty list is refused.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferChainSpec {
    /// The steps, in order (at least one).
    pub steps: Vec<TransferSpec>,
    /// Whether the file wrote a list (so that step k is named `transfer[k]`) rather than one table
    /// (named `transfer`).
    pub listed: bool,
}

/// Why a chain does not fit its input: the step (0-based) and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainError {
    /// The failing step.
    pub step: usize,
    /// What is wrong.
    pub message: String,
}

impl<'de> Deserialize<'de> for TransferChainSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TransferChainSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a transfer table `{ kind = ... }` or a list of them")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let spec = TransferSpec::deserialize(MapAccessDeserializer::new(map))?;
                Ok(TransferChainSpec::single(spec))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut steps = Vec::new();
                loop {
                    // The error names the step: the file position is that of the whole list.
                    match seq.next_element::<TransferSpec>() {
                        Ok(Some(step)) => steps.push(step),
                        Ok(None) => break,
                        Err(e) => {
                            return Err(de::Error::custom(format!(
                                "transfer[{}]: {e}",
                                steps.len()
                            )))
                        }
                    }
                }
                if steps.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list of transfers: leave `transfer` out for none",
                    ));
                }
                Ok(TransferChainSpec {
                    steps,
                    listed: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl TransferChainSpec {
    /// A chain of one step, written as one table.
    pub fn single(spec: TransferSpec) -> Self {
        TransferChainSpec {
            steps: vec![spec],
            listed: false,
        }
    }

    /// The key of step `k` under the link: `transfer` for one table, `transfer[k]` in a list.
    pub fn step_key(&self, k: usize) -> String {
        if self.listed {
            format!("transfer[{k}]")
        } else {
            "transfer".into()
        }
    }

    /// The kinds in order, e.g. `select -> linear -> poisson`.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.steps.iter().map(TransferSpec::kind_name).collect();
        names.join(" -> ")
    }

    /// The kind each step delivers for an input of kind `input` (the last one is what the consumer
    /// receives), or the first step that does not fit.
    pub fn output_kinds(&self, input: &PortKind) -> Result<Vec<PortKind>, ChainError> {
        let mut kinds: Vec<PortKind> = Vec::with_capacity(self.steps.len());
        for (k, spec) in self.steps.iter().enumerate() {
            let from = kinds.last().unwrap_or(input);
            let out = spec
                .output_kind(from)
                .map_err(|message| ChainError { step: k, message })?;
            kinds.push(out);
        }
        Ok(kinds)
    }

    /// The kind the consumer receives for an input of kind `input`, or the first step that does not fit.
    pub fn output_kind(&self, input: &PortKind) -> Result<PortKind, ChainError> {
        let mut kinds = self.output_kinds(input)?;
        kinds.pop().ok_or_else(|| ChainError {
            step: 0,
            message: "an empty chain of transfers".into(),
        })
    }
}

/// The running form of a link's chain of transfers.
///
/// Every step is applied once per consumer step with the consumer's window `[t_start, t_end)`: spikes
/// that a step generates lie in the window, so a later rate step counts them from the next consumer
/// step on (rates are evaluated at `t_start` from the spikes before it).
#[derive(Clone, Debug)]
pub struct TransferChain {
    steps: Vec<Transfer>,
    /// Output of every step but the last (the last writes into the caller's payload).
    scratch: Vec<Payload>,
}

impl TransferChain {
    /// The running chain for `spec` reading data of kind `input`; step k is seeded with `seed(k)`.
    pub fn new(
        spec: &TransferChainSpec,
        input: &PortKind,
        seed: impl Fn(usize) -> u64,
    ) -> Result<TransferChain, ChainError> {
        if spec.steps.is_empty() {
            return Err(ChainError {
                step: 0,
                message: "an empty chain of transfers".into(),
            });
        }
        let mut steps: Vec<Transfer> = Vec::with_capacity(spec.steps.len());
        for (k, s) in spec.steps.iter().enumerate() {
            let from = steps.last().map_or(input, Transfer::output_kind);
            let t = Transfer::new(s, from, seed(k))
                .map_err(|message| ChainError { step: k, message })?;
            steps.push(t);
        }
        let scratch = steps[..steps.len() - 1]
            .iter()
            .map(|t| Payload::empty_for(t.output_kind()))
            .collect();
        Ok(TransferChain { steps, scratch })
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Transfer] {
        &self.steps
    }

    /// The port kind the chain reads.
    pub fn input_kind(&self) -> &PortKind {
        self.steps[0].input_kind()
    }

    /// The port kind the chain delivers (the last step's output).
    pub fn output_kind(&self) -> &PortKind {
        self.steps[self.steps.len() - 1].output_kind()
    }

    /// Applies every step in order for the consumer's step `[t_start_ms, t_end_ms)`; the last writes
    /// into `out` (see [`Transfer::apply`]).
    pub fn apply(&mut self, input: &Payload, t_start_ms: f64, t_end_ms: f64, out: &mut Payload) {
        let last = self.steps.len() - 1;
        for k in 0..=last {
            let (done, rest) = self.scratch.split_at_mut(k);
            let from = if k == 0 { input } else { &done[k - 1] };
            let to = if k == last { &mut *out } else { &mut rest[0] };
            self.steps[k].apply(from, t_start_ms, t_end_ms, to);
        }
    }

    /// Back to t = 0 (every step reset, intermediate values emptied).
    pub fn reset(&mut self) {
        for t in &mut self.steps {
            t.reset();
        }
        for (p, t) in self.scratch.iter_mut().zip(&self.steps) {
            *p = Payload::empty_for(t.output_kind());
        }
    }
}
