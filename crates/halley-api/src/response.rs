//! Hand-written conveniences for [`CometAPIResponseMessage`], the answer of
//! every call that returns no data, and of every failing call.

use crate::types::CometAPIResponseMessage;

impl CometAPIResponseMessage {
    /// The success answer: `{"Status": 200, "Message": "OK"}`.
    pub fn ok() -> Self {
        Self::new(200, "OK")
    }

    /// An answer with the given status (an HTTP-like code; 400 and above are
    /// errors, although the HTTP status of the response stays 200) and message.
    pub fn new(status: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            ..Self::default()
        }
    }

    /// Whether the status means success (below 400).
    pub fn is_success(&self) -> bool {
        self.status < 400
    }
}
