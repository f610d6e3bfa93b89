//! The one failure type of the command: a message for stderr and the exit status it maps to.
//!
//! The statuses are the command's contract with scripts (see the crate docs), so they are
//! chosen here and nowhere else: a caller says what kind of failure it met, not its number.

use std::fmt::Display;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use trailseal::Error;

/// A proof, signature, ledger or bundle did not verify, or a release gate did not pass.
const VERIFICATION_FAILED: u8 = 1;
/// Bad usage or refused input: nothing was written, so retrying with other input is safe.
const REFUSED: u8 = 2;
/// I/O or storage: the input may be fine and the machine is not.
const IO_OR_STORAGE: u8 = 3;

/// A failure with the exit status it maps to.
#[derive(Debug)]
pub struct Failure {
    status: u8,
    message: String,
}

impl From<Error> for Failure {
    /// The core sorts its error codes into the same three kinds the exit status tells apart;
    /// the code is kept in the message so a script can match it without parsing prose.
    fn from(e: Error) -> Self {
        let code = e.code();
        let status = if code.is_verification_failure() {
            VERIFICATION_FAILED
        } else if code.is_refused_input() {
            REFUSED
        } else {
            IO_OR_STORAGE
        };
        Failure {
            status,
            message: format!("{e} [{code}]"),
        }
    }
}

impl Failure {
    /// Say where the failure happened (an input line, a batch) in front of what happened.
    pub fn prefixed(mut self, place: impl Display) -> Self {
        self.message = format!("{place}: {}", self.message);
        self
    }

    /// Print the message and give the status for `main` to return.
    pub fn exit(self) -> ExitCode {
        eprintln!("trailseal: {}", self.message);
        ExitCode::from(self.status)
    }
}

/// The result of a command step; `()` for a command, which prints what it has to say.
pub type Res<T = ()> = Result<T, Failure>;

/// Bad usage that clap cannot catch (flag combinations, values out of range).
pub fn usage(message: impl Into<String>) -> Failure {
    Failure {
        status: REFUSED,
        message: message.into(),
    }
}

/// A check the command itself makes failed (a release gate); the core's own verification
/// failures arrive through `From<Error>`.
pub fn check_failed(message: impl Into<String>) -> Failure {
    Failure {
        status: VERIFICATION_FAILED,
        message: message.into(),
    }
}

/// A storage failure the core could not name, such as a panic on a corrupt file.
pub fn storage_failed(message: impl Into<String>) -> Failure {
    Failure {
        status: IO_OR_STORAGE,
        message: message.into(),
    }
}

/// An I/O failure on `what`, which the message names. A missing file is a mistake in the
/// arguments (2), anything else a fault of the machine (3).
pub fn io_fail(what: &Path, e: io::Error) -> Failure {
    Failure {
        status: if e.kind() == io::ErrorKind::NotFound {
            REFUSED
        } else {
            IO_OR_STORAGE
        },
        message: format!("{}: {e}", what.display()),
    }
}
