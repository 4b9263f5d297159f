//! Go's wording of operating-system errors. nats-server's messages embed Go error
//! text (`open /x: no such file or directory`, `listen tcp 127.0.0.1:4222: bind:
//! address already in use`), so Shoal words the same failures the same way.

use std::io;
use std::path::Path;

/// Go's `*PathError` text: `<op> <path>: <errno text>`.
pub fn go_error(op: &str, path: &Path, err: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), errno_text(err))
}

/// The message nats-server logs when the client listener cannot be bound:
/// `Error listening on port: <addr>, "listen tcp <addr>: bind: <errno text>"`.
pub fn listen_error(addr: &str, err: &io::Error) -> String {
    let cause = match os_code(err) {
        Some(code) => format!(
            "listen tcp {addr}: bind: {}",
            errno_text(&io::Error::from_raw_os_error(code))
        ),
        None => err.to_string(),
    };
    format!("Error listening on port: {addr}, {cause:?}")
}

/// Go spells errno messages in lower case (`no such file or directory`) and
/// without Rust's ` (os error N)`.
pub fn errno_text(err: &io::Error) -> String {
    match os_code(err) {
        Some(code) => io::Error::from_raw_os_error(code)
            .to_string()
            .trim_end_matches(&format!(" (os error {code})"))
            .to_lowercase(),
        None => err.to_string(),
    }
}

/// The errno behind `err`, also when a library wrapped it in an error of its own
/// whose text ends `(os error N)` (glommio does).
fn os_code(err: &io::Error) -> Option<i32> {
    if let Some(code) = err.raw_os_error() {
        return Some(code);
    }
    let text = err.to_string();
    let tail = text.trim_end().strip_suffix(')')?;
    let at = tail.rfind("(os error ")?;
    tail[at + "(os error ".len()..].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_errors_are_worded_like_go() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            go_error("open", Path::new("/nonexist/pid"), &err),
            "open /nonexist/pid: no such file or directory"
        );
        let err = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(
            go_error("remove", Path::new("/p"), &err),
            "remove /p: permission denied"
        );
        let plain = io::Error::other("something else");
        assert_eq!(
            go_error("open", Path::new("/p"), &plain),
            "open /p: something else"
        );
    }

    #[test]
    fn listen_errors_are_worded_like_nats_server() {
        let want = "Error listening on port: 127.0.0.1:4222, \
                    \"listen tcp 127.0.0.1:4222: bind: address already in use\"";
        let raw = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(listen_error("127.0.0.1:4222", &raw), want);
        // glommio wraps the errno in an error of its own.
        let wrapped = io::Error::other("IO error occurred: Address already in use (os error 98)");
        assert_eq!(listen_error("127.0.0.1:4222", &wrapped), want);
        let other = io::Error::other("no such host");
        assert_eq!(
            listen_error("h:1", &other),
            "Error listening on port: h:1, \"no such host\""
        );
    }
}
