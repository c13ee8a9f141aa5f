//! How a command fails: the message it prints and the exit code the
//! contract gives it, for the command line and the control socket alike.

use crate::config::ConfigError;
use crate::store::StoreError;

/// A command that failed, with its exit code: 1 for the user's mistakes
/// (bad config, bad input), 2 for internal and I/O failures.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn user(message: impl ToString) -> Failure {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }

    pub fn internal(message: impl ToString) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        match e {
            ConfigError::Read { .. } | ConfigError::NotFound { .. } | ConfigError::Invalid(_) => {
                Failure::user(e)
            }
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::internal(e)
    }
}
