//! Splitting a plugin's SQL text into statements, as PostgreSQL's own lexer would: `;` ends a
//! statement outside strings (`'...'`, `E'...'` with backslash escapes, `$tag$...$tag$`), quoted
//! identifiers, comments (`--`, nested `/* */`), parentheses and the `BEGIN ATOMIC ... END` body of a
//! SQL-standard function. Each statement keeps its first few tokens, which is all
//! [`statements`](super::statements) looks at.
//!
//! This split is never trusted to confine anything: every statement is sent to the server on its
//! own in one Parse message, which PostgreSQL refuses to hold more than one statement
//! ("cannot insert multiple commands into a prepared statement"). A text this lexer reads
//! differently from the server fails there; it cannot run a statement the host did not see.

/// Tokens kept per statement: enough for `ROLLBACK AND NO CHAIN` or `CREATE OR REPLACE FUNCTION`.
const KEPT_TOKENS: usize = 8;

/// One token at the start of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word (keyword or identifier), upper-cased.
    Word(String),
    /// A quoted identifier (`"..."`), as written between the quotes (never a keyword).
    Quoted(String),
    /// A string constant, a number, an operator or punctuation.
    Other,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Its text, without the `;` that ended it.
    pub text: &'a str,
    /// Its first tokens (comments and whitespace skipped).
    pub tokens: Vec<Token>,
}

impl Statement<'_> {
    /// Whether the statement's first tokens are these words (upper case).
    pub fn starts_with(&self, words: &[&str]) -> bool {
        words.len() <= self.tokens.len()
            && words.iter().zip(&self.tokens).all(|(w, t)| matches!(t, Token::Word(x) if x == w))
    }

    /// The `n`th token's word, if it is one.
    pub fn word(&self, n: usize) -> Option<&str> {
        match self.tokens.get(n) {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }
}

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn ident_cont(b: u8) -> bool {
    ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// The statements of `script`, in order; statements with no tokens (only comments) are left out.
pub fn split(script: &str) -> Vec<Statement<'_>> {
    let s = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut tokens: Vec<Token> = Vec::new();
    let mut parens = 0usize;
    let mut begins = 0usize;
    let mut i = 0;
    let push = |tokens: &mut Vec<Token>, t: Token| {
        if tokens.len() < KEPT_TOKENS {
            tokens.push(t);
        }
    };
    while i < s.len() {
        let b = s[i];
        match b {
            b'-' if s.get(i + 1) == Some(&b'-') => {
                i = s[i..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(s.len(), |p| i + p);
            }
            b'/' if s.get(i + 1) == Some(&b'*') => i = skip_block_comment(s, i),
            b'\'' => {
                push(&mut tokens, Token::Other);
                i = skip_string(s, i, false);
            }
            b'"' => {
                let end = skip_quoted(s, i);
                let inner = script.get(i + 1..end.saturating_sub(1).max(i + 1)).unwrap_or_default();
                push(&mut tokens, Token::Quoted(inner.replace("\"\"", "\"")));
                i = end;
            }
            b'$' => {
                push(&mut tokens, Token::Other);
                i = match dollar_tag(s, i) {
                    Some(tag) => skip_dollar_quoted(s, i, tag),
                    None => i + 1,
                };
            }
            b';' if parens == 0 && begins == 0 => {
                if !tokens.is_empty() {
                    out.push(Statement { text: &script[start..i], tokens: std::mem::take(&mut tokens) });
                }
                i += 1;
                start = i;
            }
            b'(' => {
                parens += 1;
                push(&mut tokens, Token::Other);
                i += 1;
            }
            b')' => {
                parens = parens.saturating_sub(1);
                push(&mut tokens, Token::Other);
                i += 1;
            }
            _ if ident_start(b) => {
                let end = i + s[i..].iter().position(|&c| !ident_cont(c)).unwrap_or(s.len() - i);
                let word = script[i..end].to_ascii_uppercase();
                let next = s.get(end).copied();
                // A prefixed string or identifier: E'..', B'..', X'..', N'..', U&'..', U&"..".
                if next == Some(b'\'') && matches!(word.as_str(), "E" | "B" | "X" | "N") {
                    push(&mut tokens, Token::Other);
                    i = skip_string(s, end, word == "E");
                    continue;
                }
                if word == "U" && next == Some(b'&') && matches!(s.get(end + 1), Some(b'\'') | Some(b'"')) {
                    i = if s[end + 1] == b'\'' { skip_string(s, end + 1, false) } else { skip_quoted(s, end + 1) };
                    push(&mut tokens, Token::Other);
                    continue;
                }
                // The body of CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC ... END holds `;`s (psql counts the same words).
                if is_routine(&tokens) {
                    match word.as_str() {
                        "BEGIN" | "CASE" => begins += 1,
                        "END" => begins = begins.saturating_sub(1),
                        _ => {}
                    }
                }
                push(&mut tokens, Token::Word(word));
                i = end;
            }
            _ if b.is_ascii_whitespace() => i += 1,
            _ => {
                push(&mut tokens, Token::Other);
                i += 1;
            }
        }
    }
    if !tokens.is_empty() {
        out.push(Statement { text: &script[start..], tokens });
    }
    out
}

/// Whether a statement's first tokens are `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
fn is_routine(tokens: &[Token]) -> bool {
    let words: Vec<&str> =
        tokens.iter().take(4).map(|t| if let Token::Word(w) = t { w.as_str() } else { "" }).collect();
    matches!(
        words.as_slice(),
        ["CREATE", "FUNCTION" | "PROCEDURE", ..] | ["CREATE", "OR", "REPLACE", "FUNCTION" | "PROCEDURE", ..]
    )
}

/// Past the `/* ... */` comment at `i` (comments nest).
fn skip_block_comment(s: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < s.len() {
        if s[i] == b'/' && s.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if s[i] == b'*' && s.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// Past the string whose opening quote is at `i`; `''` is a quote, and with `backslash` (`E'...'`)
/// so is `\'`.
fn skip_string(s: &[u8], i: usize, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'\\' if backslash => j += 2,
            b'\'' if s.get(j + 1) == Some(&b'\'') => j += 2,
            b'\'' => return j + 1,
            _ => j += 1,
        }
    }
    s.len()
}

/// Past the quoted identifier whose opening quote is at `i` (`""` is a quote).
fn skip_quoted(s: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'"' if s.get(j + 1) == Some(&b'"') => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    s.len()
}

/// The dollar-quote delimiter (`$$`, `$tag$`) starting at `i`, if there is one there (`$1` is a parameter).
fn dollar_tag(s: &[u8], i: usize) -> Option<&[u8]> {
    let rest = &s[i + 1..];
    if rest.first().is_some_and(|&b| !ident_start(b) && b != b'$') {
        return None;
    }
    let len = rest.iter().position(|&b| b == b'$')?;
    let tag = &rest[..len];
    if tag.iter().all(|&b| ident_cont(b) && b != b'$') { Some(&s[i..i + len + 2]) } else { None }
}

/// Past the dollar-quoted string opened by `delimiter` at `i`.
fn skip_dollar_quoted(s: &[u8], i: usize, delimiter: &[u8]) -> usize {
    let body = i + delimiter.len();
    s[body..].windows(delimiter.len()).position(|w| w == delimiter).map_or(s.len(), |p| body + p + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<&str> {
        split(script).into_iter().map(|s| s.text.trim()).collect()
    }

    #[test]
    fn semicolons_in_strings_comments_and_quotes_do_not_split() {
        let script = "INSERT INTO t VALUES ('a;b', E'it\\'s; fine', $$x;y$$, $f$ $$; $f$);\n\
                      -- a comment; still one\n/* nested /* ; */ ; */ SELECT \"we;ird\" FROM t;;  ; SELECT 2";
        assert_eq!(
            texts(script),
            vec![
                "INSERT INTO t VALUES ('a;b', E'it\\'s; fine', $$x;y$$, $f$ $$; $f$)",
                "-- a comment; still one\n/* nested /* ; */ ; */ SELECT \"we;ird\" FROM t",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn a_standard_string_has_no_backslash_escape() {
        // With standard_conforming_strings (PostgreSQL's default since 9.1) '\' is a backslash.
        assert_eq!(texts("SELECT '\\'; COMMIT"), vec!["SELECT '\\'", "COMMIT"]);
        assert_eq!(texts("SELECT e'\\'; COMMIT'"), vec!["SELECT e'\\'; COMMIT'"]);
    }

    #[test]
    fn first_tokens_skip_comments_and_upper_case_words() {
        let s = &split("/* x */ -- y\n  rollback\tTo sp")[0];
        assert_eq!(s.tokens, vec![Token::Word("ROLLBACK".into()), Token::Word("TO".into()), Token::Word("SP".into())]);
        assert!(s.starts_with(&["ROLLBACK", "TO"]));
        let q = &split("SET \"statement_timeout\" = 0")[0];
        assert_eq!(q.tokens[1], Token::Quoted("statement_timeout".into()));
        assert_eq!(split("$1")[0].tokens, vec![Token::Other, Token::Other]);
        assert_eq!(split("SELECT a$b$c FROM t; x")[0].word(1), Some("A$B$C"));
    }

    #[test]
    fn parentheses_and_begin_atomic_bodies_hold_their_semicolons() {
        let rule =
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1";
        assert_eq!(split(rule).len(), 2);
        let f = "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3";
        let parts = texts(f);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].ends_with("SELECT 2; END"));
        // Outside a routine, BEGIN is a statement of its own.
        assert_eq!(texts("BEGIN; SELECT 1; END").len(), 3);
    }

    #[test]
    fn an_unterminated_string_or_comment_runs_to_the_end() {
        assert_eq!(texts("SELECT 'a; COMMIT"), vec!["SELECT 'a; COMMIT"]);
        assert_eq!(texts("SELECT 1 /* ; COMMIT"), vec!["SELECT 1 /* ; COMMIT"]);
        assert_eq!(texts("SELECT $x$ ; COMMIT"), vec!["SELECT $x$ ; COMMIT"]);
        assert!(split("  -- only a comment\n ; /* and this */").is_empty());
    }
}
