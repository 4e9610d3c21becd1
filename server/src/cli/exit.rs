//! The exit codes of `keyseal`, written once: their meanings (printed by `--help`), the
//! HTTP statuses of the client commands and the registry error codes of the database
//! commands that lead to each.

use std::process::ExitCode;

/// An exit code of `keyseal` ([`Exit::help`] lists them with their meanings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0.
    Success = 0,
    /// 1.
    Failure = 1,
    /// 2.
    Usage = 2,
    /// 3.
    Refused = 3,
    /// 4.
    Auth = 4,
    /// 5.
    NotFound = 5,
    /// 6.
    Conflict = 6,
    /// 7.
    Unreachable = 7,
    /// 8.
    Negative = 8,
}

impl Exit {
    /// Every exit code, in order.
    pub const ALL: [Exit; 9] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::Refused,
        Exit::Auth,
        Exit::NotFound,
        Exit::Conflict,
        Exit::Unreachable,
        Exit::Negative,
    ];

    /// What the code means, as `--help` prints it, and the HTTP statuses (of a client
    /// command's answer) and registry error codes (of a command on the database) that
    /// exit with it. Anything not listed exits 1.
    fn row(self) -> (&'static str, &'static [u16], &'static [&'static str]) {
        match self {
            Exit::Success => ("success", &[], &[]),
            Exit::Failure => ("other failure (config, I/O, start-up)", &[], &[]),
            Exit::Usage => ("usage error", &[], &[]),
            Exit::Refused => (
                "input refused (HTTP 400/413/422)",
                &[400, 413, 422],
                &[
                    "invalid_name",
                    "invalid_argument",
                    "invalid_metadata",
                    "invalid_limit",
                    "invalid_cursor",
                    "payload_too_large",
                ],
            ),
            Exit::Auth => ("authentication or permission (401/403)", &[401, 403], &[]),
            Exit::NotFound => ("not found (404)", &[404], &["not_found"]),
            Exit::Conflict => (
                "conflict (409/412)",
                &[409, 412],
                &["name_conflict", "version_conflict"],
            ),
            Exit::Unreachable => (
                "server or database unreachable (503, connection refused)",
                &[503],
                &["storage_unavailable"],
            ),
            Exit::Negative => (
                "negative answer (inspect of a bad key, token verify of an invalid token)",
                &[],
                &[],
            ),
        }
    }

    /// The exit code of a client command whose request was answered with `status` (not
    /// 2xx).
    pub fn for_status(status: u16) -> Exit {
        Exit::ALL
            .into_iter()
            .find(|e| e.row().1.contains(&status))
            .unwrap_or(Exit::Failure)
    }

    /// The exit code of a command whose registry call failed with `code`.
    pub fn for_error_code(code: &str) -> Exit {
        Exit::ALL
            .into_iter()
            .find(|e| e.row().2.contains(&code))
            .unwrap_or(Exit::Failure)
    }

    /// The table for `keyseal --help`.
    pub fn help() -> String {
        let rows: Vec<String> = Exit::ALL
            .iter()
            .map(|e| format!("{} {}", *e as u8, e.row().0))
            .collect();
        format!("Exit codes: {}.", rows.join("; "))
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_every_status_it_maps() {
        for e in Exit::ALL {
            let (meaning, statuses, _) = e.row();
            for s in statuses {
                assert!(meaning.contains(&s.to_string()), "{e:?} {s}");
            }
        }
        assert!(Exit::help().starts_with("Exit codes: 0 success; 1 other failure"));
        assert_eq!(Exit::for_status(412), Exit::Conflict);
        assert_eq!(Exit::for_status(500), Exit::Failure);
        assert_eq!(Exit::for_error_code("invalid_cursor"), Exit::Refused);
        assert_eq!(Exit::for_error_code("token_expired"), Exit::Failure);
    }
}
