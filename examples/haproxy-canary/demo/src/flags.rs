//! Hand-rolled command-line flags for the demo binaries: `--name value` or `--name=value`, nothing positional.
//!
//! Std only so the demo builds in seconds. Every error is one line that names the flag; the binaries
//! prefix their own name and exit with status 2.

use std::str::FromStr;

/// Walks the arguments one flag at a time; the caller decides which flags take a value.
pub struct Flags<I> {
    args: I,
    /// The flag being handled, for error messages.
    current: String,
    /// The `value` part of a `--name=value` argument, until the caller asks for it.
    inline_value: Option<String>,
}

impl<I: Iterator<Item = String>> Flags<I> {
    pub fn new(args: impl IntoIterator<Item = String, IntoIter = I>) -> Self {
        Self { args: args.into_iter(), current: String::new(), inline_value: None }
    }

    /// The next flag's name with its dashes (`--listen`), or `None` once the arguments are used up.
    pub fn next_flag(&mut self) -> Result<Option<String>, String> {
        if self.inline_value.take().is_some() {
            return Err(format!("`{}` takes no value", self.current));
        }
        let Some(arg) = self.args.next() else { return Ok(None) };
        if !arg.starts_with('-') {
            return Err(format!("unexpected argument `{arg}` (flags look like `--name value`)"));
        }
        match arg.split_once('=') {
            Some((name, value)) => {
                self.current = name.to_owned();
                self.inline_value = Some(value.to_owned());
            }
            None => self.current = arg,
        }
        Ok(Some(self.current.clone()))
    }

    /// The value of the flag just returned by [`Flags::next_flag`].
    pub fn value(&mut self) -> Result<String, String> {
        if let Some(value) = self.inline_value.take() {
            return Ok(value);
        }
        self.args.next().ok_or_else(|| format!("`{}` needs a value", self.current))
    }

    /// The value of the current flag parsed as `T`; `expected` describes a valid value for the error.
    pub fn parsed<T: FromStr>(&mut self, expected: &str) -> Result<T, String> {
        let raw = self.value()?;
        raw.parse().map_err(|_| self.invalid(expected, &raw))
    }

    /// The error for a value of the current flag that parsed but is out of range.
    pub fn invalid(&self, expected: &str, raw: &str) -> String {
        format!("`{}` expects {expected}, got `{raw}`", self.current)
    }

    /// The error for a flag the binary does not know.
    pub fn unknown(&self) -> String {
        format!("unknown flag `{}` (see --help)", self.current)
    }
}

/// The `main` of a demo binary: `None` (from `--help`) prints `usage`; a flag error exits with 2
/// and a failed run with 1, each as one line on stderr starting with `program`.
pub fn main_with<C, E: std::fmt::Display>(
    program: &str,
    usage: &str,
    parsed: Result<Option<C>, String>,
    run: impl FnOnce(C) -> Result<(), E>,
) -> std::process::ExitCode {
    match parsed {
        Ok(None) => {
            println!("{usage}");
            std::process::ExitCode::SUCCESS
        }
        Ok(Some(config)) => match run(config) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{program}: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("{program}: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags<std::vec::IntoIter<String>> {
        Flags::new(args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn value_may_follow_the_flag_or_be_joined_with_equals() {
        let mut f = flags(&["--a", "1", "--b=2"]);
        assert_eq!(f.next_flag().unwrap().as_deref(), Some("--a"));
        assert_eq!(f.value().unwrap(), "1");
        assert_eq!(f.next_flag().unwrap().as_deref(), Some("--b"));
        assert_eq!(f.value().unwrap(), "2");
        assert_eq!(f.next_flag().unwrap(), None);
    }

    #[test]
    fn missing_value_names_the_flag() {
        let mut f = flags(&["--listen"]);
        f.next_flag().unwrap();
        assert_eq!(f.value().unwrap_err(), "`--listen` needs a value");
    }

    #[test]
    fn equals_value_on_a_switch_is_rejected() {
        let mut f = flags(&["--help=yes"]);
        f.next_flag().unwrap();
        assert_eq!(f.next_flag().unwrap_err(), "`--help` takes no value");
    }

    #[test]
    fn positional_arguments_are_rejected() {
        assert!(flags(&["stray"]).next_flag().unwrap_err().contains("`stray`"));
    }

    #[test]
    fn unparsable_value_names_flag_and_value() {
        let mut f = flags(&["--rps", "lots"]);
        f.next_flag().unwrap();
        assert_eq!(f.parsed::<u32>("a number").unwrap_err(), "`--rps` expects a number, got `lots`");
    }
}
