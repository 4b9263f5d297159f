//! nats-server's messages about operating-system errors, which embed Go's error
//! text (`open /x: no such file or directory`, `listen tcp 127.0.0.1:4222: bind:
//! address already in use`); the Go spellings themselves live in `shoal-go`.

use std::io;
use std::path::Path;

/// Go's `*PathError` text: `<op> <path>: <errno text>`.
pub fn go_error(op: &str, path: &Path, err: &io::Error) -> String {
    shoal_go::path_error(op, path, err)
}

/// The message nats-server logs when the client listener cannot be bound:
/// `Error listening on port: <addr>, "listen tcp <addr>: bind: <errno text>"`.
pub fn listen_error(addr: &str, err: &io::Error) -> String {
    let cause = match shoal_go::os_code(err) {
        Some(code) => format!(
            "listen tcp {addr}: bind: {}",
            errno_text(&io::Error::from_raw_os_error(code))
        ),
        None => err.to_string(),
    };
    format!("Error listening on port: {addr}, {cause:?}")
}

/// Go's text for an OS error (see [`shoal_go::errno_text`]).
pub fn errno_text(err: &io::Error) -> String {
    shoal_go::errno_text(err)
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
