//! The API's errors: `{"code":<http-ish>,"err_code":<nats code>,
//! "description":"…"}` with nats-server's codes and texts
//! (jetstream_errors_generated.go; spec/jetstream.md §3.6).

use serde::Serialize;

/// One API error, as replies carry it under `"error"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u32,
    pub description: String,
}

impl ApiError {
    pub fn new(code: u16, err_code: u32, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    pub fn not_enabled() -> ApiError {
        ApiError::new(503, 10039, "JetStream not enabled for account")
    }
    pub fn bad_request() -> ApiError {
        ApiError::new(400, 10003, "bad request")
    }
    pub fn invalid_json(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10025, format!("invalid JSON: {e}"))
    }
    pub fn not_empty() -> ApiError {
        ApiError::new(400, 10038, "expected an empty request payload")
    }
    pub fn invalid_config(e: impl Into<String>) -> ApiError {
        ApiError::new(500, 10052, e)
    }
    pub fn name_mismatch() -> ApiError {
        ApiError::new(400, 10056, "stream name in subject does not match request")
    }
    pub fn name_in_use() -> ApiError {
        ApiError::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_not_found() -> ApiError {
        ApiError::new(404, 10059, "stream not found")
    }
    pub fn subjects_overlap() -> ApiError {
        ApiError::new(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn replicas() -> ApiError {
        ApiError::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
    pub fn no_message() -> ApiError {
        ApiError::new(404, 10037, "no message found")
    }
    pub fn store(e: impl Into<String>) -> ApiError {
        ApiError::new(500, 10057, e)
    }
    pub fn purge_denied() -> ApiError {
        ApiError::new(500, 10110, "stream purge not permitted")
    }
    pub fn sealed() -> ApiError {
        ApiError::new(400, 10109, "invalid operation on sealed stream")
    }
    pub fn expected_stream() -> ApiError {
        ApiError::new(400, 10060, "expected stream does not match")
    }
    pub fn wrong_last_seq(seq: u64) -> ApiError {
        ApiError::new(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn wrong_last_msg_id(id: &str) -> ApiError {
        ApiError::new(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn missing_subject_seq() -> ApiError {
        ApiError::new(
            400,
            10193,
            "missing sequence for expected last sequence per subject",
        )
    }
    pub fn rollup(e: impl Into<String>) -> ApiError {
        ApiError::new(500, 10111, e)
    }
    pub fn msg_too_big() -> ApiError {
        ApiError::new(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn header_too_big() -> ApiError {
        ApiError::new(400, 10097, "header size exceeds maximum allowed of 64k")
    }
    pub fn store_refused(e: impl Into<String>) -> ApiError {
        ApiError::new(503, 10077, e)
    }
    pub fn ttl_disabled() -> ApiError {
        ApiError::new(400, 10166, "per-message TTL is disabled")
    }
    pub fn ttl_invalid() -> ApiError {
        ApiError::new(400, 10165, "invalid per-message TTL")
    }
    pub fn max_streams() -> ApiError {
        ApiError::new(400, 10027, "maximum number of streams reached")
    }
    pub fn not_yet(what: &str) -> ApiError {
        ApiError::invalid_config(format!(
            "{what} is not supported by this version of shoal yet"
        ))
    }
}
