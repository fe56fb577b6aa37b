//! `wat-assembler SHELL ATTACK OUT`: puts the text of ATTACK in place of the `;; ATTACK` line of
//! SHELL (both WAT), assembles the result and writes the binary to OUT.

use std::process::ExitCode;

/// The line of the shell the attack replaces.
const PLACEHOLDER: &str = ";; ATTACK";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [shell, attack, out] = args.as_slice() else {
        eprintln!("usage: wat-assembler SHELL ATTACK OUT");
        return ExitCode::from(2);
    };
    match assemble(shell, attack, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wat-assembler: {e}");
            ExitCode::FAILURE
        }
    }
}

fn assemble(shell: &str, attack: &str, out: &str) -> Result<(), String> {
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"));
    let (shell_text, attack_text) = (read(shell)?, read(attack)?);
    if shell_text.lines().filter(|l| l.trim() == PLACEHOLDER).count() != 1 {
        return Err(format!("{shell} must have exactly one `{PLACEHOLDER}` line"));
    }
    let text: String = shell_text
        .lines()
        .map(|l| if l.trim() == PLACEHOLDER { attack_text.as_str() } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = wat::parse_str(&text).map_err(|e| format!("{attack} in {shell}: {e}"))?;
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {out}: {e}"))
}
