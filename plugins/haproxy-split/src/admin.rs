//! HAProxy's runtime API as this target uses it: one command line per connection to the admin
//! socket, and the parsing of the few answers it reads (`get weight`, `show acl`, `show map`).

use std::io::{Read, Write};
use std::net::TcpStream;

use upshift_sdk::PluginError;

/// Longest answer read from the admin socket; `get weight` answers a few bytes, `show acl` and
/// `show map` one line per entry.
pub const MAX_ANSWER_BYTES: u64 = 64 << 10;

/// Sends one command line to the admin socket at `address` and returns the whole answer.
pub fn command(address: &str, line: &str) -> Result<String, PluginError> {
    if line.contains(['\n', '\r']) {
        return Err(PluginError::invalid_config(format!("command {line:?} spans several lines")));
    }
    let fail = |e: std::io::Error| {
        let message = format!("HAProxy admin socket {address}: {e}");
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            PluginError::denied(message)
        } else {
            let mut e = PluginError::unavailable(message);
            e.retryable = true;
            e
        }
    };
    let mut stream = TcpStream::connect(address).map_err(fail)?;
    stream.write_all(format!("{line}\n").as_bytes()).map_err(fail)?;
    let mut answer = String::new();
    stream.take(MAX_ANSWER_BYTES).read_to_string(&mut answer).map_err(fail)?;
    Ok(answer)
}

/// Sends a command that answers nothing when it succeeds; any answer is HAProxy's refusal.
pub fn change(address: &str, line: &str) -> Result<(), PluginError> {
    let answer = command(address, line)?;
    let answer = answer.trim();
    if answer.is_empty() {
        Ok(())
    } else {
        Err(PluginError::conflict(format!("HAProxy refused `{line}`: {}", first_line(answer))))
    }
}

fn first_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default().trim()
}

/// The current weight from a `get weight` answer such as `10 (initial 1)`.
pub fn parse_weight(answer: &str) -> Result<u32, String> {
    answer
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("unexpected answer to get weight: {:?}", answer.trim()))
}

/// The entries of a `show acl FILE` answer (`0x55d6151a37b0 green` per line), or why it is not one.
pub fn parse_acl(answer: &str) -> Result<Vec<String>, String> {
    entries(answer, 2).map(|rows| rows.into_iter().map(|mut r| r.remove(1)).collect())
}

/// The `(key, value)` entries of a `show map FILE` answer (`0x55d6151a39d0 percent 30` per line).
pub fn parse_map(answer: &str) -> Result<Vec<(String, String)>, String> {
    entries(answer, 3).map(|rows| {
        rows.into_iter()
            .map(|mut r| {
                let value = r.remove(2);
                (r.remove(1), value)
            })
            .collect()
    })
}

/// Rows of `fields` whitespace-separated fields, each starting with an entry's address (`0x…`);
/// anything else (`Unknown map identifier…`) is an error naming the answer.
fn entries(answer: &str, fields: usize) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    for line in answer.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let row: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if row.len() != fields || !row[0].starts_with("0x") {
            return Err(format!("unexpected answer: {:?}", first_line(answer)));
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_weight_answers_are_parsed() {
        assert_eq!(parse_weight("10 (initial 1)\n"), Ok(10));
        assert!(parse_weight("No such server.\n").is_err());
        assert!(parse_weight("").is_err());
    }

    #[test]
    fn acl_and_map_listings_are_parsed_and_refusals_are_not_mistaken_for_them() {
        assert_eq!(parse_acl("0x55d6151a37b0 green\n\n"), Ok(vec!["green".to_string()]));
        assert_eq!(parse_acl("\n"), Ok(vec![]));
        assert_eq!(parse_map("0x55d6151a39d0 percent 30\n\n"), Ok(vec![("percent".to_string(), "30".to_string())]));
        let refusal = "Unknown map identifier. Please use #<id> or <file>.\n\n";
        assert!(parse_acl(refusal).unwrap_err().contains("Unknown map identifier"));
        assert!(parse_map(refusal).is_err());
        assert!(parse_map("0x1 percent\n").is_err());
    }
}
