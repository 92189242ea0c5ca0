//! The time grid, as NEST's `nest::Time` maps milliseconds onto it (default 1000 tics per ms).

use crate::error::{ParamError, TIC_MS};

/// The resolution in tics, or an error if `h_ms` is not a positive multiple of a tic.
pub(crate) fn resolution_tics(h_ms: f64) -> Result<i64, ParamError> {
    if !(h_ms.is_finite() && h_ms > 0.0) {
        return Err(ParamError::Resolution(h_ms));
    }
    let tics = (h_ms / TIC_MS).round();
    if tics < 1.0 || (tics * TIC_MS - h_ms).abs() > 1e-9 * h_ms {
        return Err(ParamError::Resolution(h_ms));
    }
    Ok(tics as i64)
}

/// The number of whole steps of `h_tics` covering `t_ms`, as NEST's `Time(Time::ms(t)).get_steps()`:
/// `t_ms` is rounded to the nearest tic, then up to whole steps (2 ms at 0.1 ms: 20 steps; 0.25 ms at
/// 0.1 ms: 3 steps). `t_ms` must be finite and >= 0.
pub(crate) fn steps_up(t_ms: f64, h_tics: i64) -> u32 {
    let tics = (t_ms / TIC_MS + 0.5).floor() as i64;
    let steps = (tics + h_tics - 1) / h_tics;
    u32::try_from(steps).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refractory_steps_follow_nest_time() {
        let h = resolution_tics(0.1).unwrap();
        assert_eq!(h, 100);
        assert_eq!(steps_up(2.0, h), 20);
        assert_eq!(steps_up(0.0, h), 0);
        assert_eq!(steps_up(0.25, h), 3);
        assert_eq!(steps_up(0.1, h), 1);
        assert_eq!(steps_up(0.1000004, h), 1); // rounds to the tic first
        assert_eq!(steps_up(2.0, resolution_tics(0.25).unwrap()), 8);
    }

    #[test]
    fn resolution_must_be_whole_tics() {
        assert!(resolution_tics(0.0).is_err());
        assert!(resolution_tics(-0.1).is_err());
        assert!(resolution_tics(f64::NAN).is_err());
        assert!(resolution_tics(0.0005).is_err());
        assert!(resolution_tics(0.123).is_ok());
        assert!(resolution_tics(0.1234).is_err());
    }
}
