//! The crate's error type.

/// A parameter set or a resolution that a model cannot run with. The variants name the model, the
/// field and the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A parameter breaks one of the model's constraints (NEST's `BadProperty`).
    #[error("{model}: {field} = {value}: {reason}")]
    Invalid {
        /// The model, by its NEST name.
        model: &'static str,
        /// The parameter, by its NEST name.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The constraint it breaks.
        reason: &'static str,
    },
    /// The simulation resolution is not a positive multiple of NEST's tic (0.001 ms).
    #[error("resolution_ms = {0}: must be a positive multiple of {TIC_MS} ms")]
    Resolution(f64),
}

/// NEST's default time base: one tic is 0.001 ms.
pub const TIC_MS: f64 = 0.001;

/// `Ok` if `ok`, else [`ParamError::Invalid`] naming `field`.
pub(crate) fn require(
    ok: bool,
    model: &'static str,
    field: &'static str,
    value: f64,
    reason: &'static str,
) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError::Invalid {
            model,
            field,
            value,
            reason,
        })
    }
}
