//! `events_to_spikes`: address events (event camera, skin) -> spikes, per pixel or pooled over regions,
//! ON and OFF apart.

use serde::Deserialize;

use super::{spikes_out, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::PortKind;

const NAME: &str = "events_to_spikes";

/// `{ kind = "events_to_spikes", pool = [4, 4], polarity = "both" }`.
///
/// events(W x H) -> spikes(P * R). Pixels are pooled into regions of `pool = [px, py]` pixels:
/// R = ceil(W / px) * ceil(H / py) regions, region index r = floor(y / py) * ceil(W / px) + floor(x /
/// px). With `polarity = "both"` (P = 2) ON events go to neuron r and OFF events to neuron R + r (ON
/// first); with `"on"` or `"off"` (P = 1) only those events are kept, as neuron r. Each event becomes
/// one spike at the event's time, in the events' order; events outside the sensor are dropped.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsToSpikes {
    /// Pixels per region, `[px, py]`, each >= 1 (default `[1, 1]`: one region per pixel).
    #[serde(default = "one_one")]
    pub pool: [u32; 2],
    /// Which events become spikes (default `"both"`).
    #[serde(default)]
    pub polarity: Polarity,
}

fn one_one() -> [u32; 2] {
    [1, 1]
}

/// Which events an `events_to_spikes` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    /// ON events as neurons 0..R, OFF events as neurons R..2R.
    #[default]
    Both,
    /// ON (brighter, more pressure) events only, as neurons 0..R.
    On,
    /// OFF events only, as neurons 0..R.
    Off,
}

/// The resolved layout: sensor size, pooling, regions per row, region count.
#[derive(Clone, Copy, Debug)]
struct Layout {
    width: u16,
    height: u16,
    px: u32,
    py: u32,
    columns: u32,
    regions: u32,
}

impl EventsToSpikes {
    fn layout(&self, input: &PortKind) -> Result<(Layout, u32), String> {
        let PortKind::Events { width, height } = *input else {
            return Err(format!(
                "{NAME} needs an events input, got {}",
                input.describe()
            ));
        };
        let [px, py] = self.pool;
        if px == 0 || py == 0 {
            return Err(format!(
                "{NAME}: `pool` must be at least [1, 1], got [{px}, {py}]"
            ));
        }
        let columns = u32::from(width).div_ceil(px);
        let rows = u32::from(height).div_ceil(py);
        let polarities = if self.polarity == Polarity::Both {
            2
        } else {
            1
        };
        let too_big = || {
            format!(
                "{NAME}: {polarities} x {columns} x {rows} neurons does not fit in a population"
            )
        };
        let regions = columns.checked_mul(rows).ok_or_else(too_big)?;
        let size = regions.checked_mul(polarities).ok_or_else(too_big)?;
        if size == 0 {
            return Err(format!(
                "{NAME} needs a sensor of at least one pixel, got {}",
                input.describe()
            ));
        }
        let layout = Layout {
            width,
            height,
            px,
            py,
            columns,
            regions,
        };
        Ok((layout, size))
    }
}

impl TransferKind for EventsToSpikes {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let (_, size) = self.layout(input)?;
        Ok(PortKind::Spikes { size })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let (layout, _) = self.layout(input)?;
        Ok(Box::new(Running {
            layout,
            polarity: self.polarity,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    layout: Layout,
    polarity: Polarity,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let Payload::Events(ev) = input else {
            return;
        };
        let l = self.layout;
        let o = spikes_out(out);
        let events = ev.x.iter().zip(&ev.y).zip(&ev.time_ms).zip(&ev.polarity);
        for (((&x, &y), &t), &on) in events {
            if x >= l.width || y >= l.height || !t.is_finite() {
                continue;
            }
            let region = (u32::from(y) / l.py) * l.columns + u32::from(x) / l.px;
            let neuron = match (self.polarity, on) {
                (Polarity::Both, true) | (Polarity::On, true) | (Polarity::Off, false) => region,
                (Polarity::Both, false) => l.regions + region,
                _ => continue,
            };
            o.push(neuron, t);
        }
    }

    fn reset(&mut self) {}
}
