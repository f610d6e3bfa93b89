//! How long one network request (to a witness, to a time-stamp authority) may take, as every
//! front end passes it: a number of seconds. The rule lives here so that the command and every
//! binding refuse the same values with the same error.

use std::time::Duration;

use crate::error::{Error, Result};

/// `seconds` as a request timeout. Refused ([`Error::InvalidArgument`]): zero, a negative
/// number, NaN, infinity or a number too large for a [`Duration`], none of which bounds a wait.
pub fn request_timeout(seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "timeout {seconds}: give a positive number of seconds"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_finite_seconds_bound_a_wait() {
        assert_eq!(request_timeout(2.5).unwrap(), Duration::from_millis(2500));
        assert_eq!(request_timeout(1e-9).unwrap(), Duration::from_nanos(1));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e30] {
            let e = request_timeout(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e}");
        }
    }
}
