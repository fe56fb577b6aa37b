//! Recognising what a plugin file is before handing it to the compiler: its sha256 digest and
//! whether its bytes are a component, a core module, or not WebAssembly at all.

use sha2::{Digest as _, Sha256};

/// A sha256 digest, shown as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// Parses 64 hex digits, with or without a `sha256:` prefix.
    pub fn parse(text: &str) -> Option<Self> {
        let hex_digits = text.trim().strip_prefix("sha256:").unwrap_or(text.trim());
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut out).ok()?;
        Some(Digest(out))
    }

    /// The 32 bytes of the sha256.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What a file's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Component,
    CoreModule,
    /// A WebAssembly binary of a version or layer this host does not know.
    UnknownWasm,
    NotWasm,
}

impl Format {
    pub fn of(bytes: &[u8]) -> Self {
        const MAGIC: &[u8] = b"\0asm";
        const CORE_V1: [u8; 4] = [1, 0, 0, 0];
        const COMPONENT_LAYER1: [u8; 4] = [0x0d, 0, 1, 0];
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return Format::NotWasm;
        }
        match [bytes[4], bytes[5], bytes[6], bytes[7]] {
            CORE_V1 => Format::CoreModule,
            COMPONENT_LAYER1 => Format::Component,
            _ => Format::UnknownWasm,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Format::Component => "a WebAssembly component",
            Format::CoreModule => "a core WebAssembly module, not a component",
            Format::UnknownWasm => "a WebAssembly binary of an unknown version",
            Format::NotWasm => "not WebAssembly",
        }
    }
}

/// The custom section in which a plugin declares the capabilities it needs (`capabilities!`).
pub const CAPABILITIES_SECTION: &str = "upshift:capabilities";

/// What a plugin says it needs. A plugin that declares nothing is given nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Declared {
    pub sql: bool,
    pub files: bool,
    pub network: bool,
    pub env: Vec<String>,
    /// Words the host does not know (from a newer SDK); reported, never granted.
    pub unknown: Vec<String>,
}

impl Declared {
    /// Reads the declaration from the custom sections of a component's modules.
    pub fn of(bytes: &[u8]) -> Self {
        let mut declared = Declared::default();
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            let Ok(wasmparser::Payload::CustomSection(section)) = payload else { continue };
            if section.name() == CAPABILITIES_SECTION {
                declared.add(&String::from_utf8_lossy(section.data()));
            }
        }
        declared
    }

    /// Adds the words of one declaration: `sql files env=A,B, network`.
    fn add(&mut self, text: &str) {
        for word in text.split_whitespace() {
            match word.split_once('=') {
                Some(("env", names)) => {
                    self.env.extend(names.split(',').filter(|n| !n.is_empty()).map(|n| n.trim_matches('"').to_string()))
                }
                None if word == "sql" => self.sql = true,
                None if word == "files" => self.files = true,
                None if word == "network" => self.network = true,
                _ => self.unknown.push(word.to_string()),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.sql && !self.files && !self.network && self.env.is_empty()
    }
}

impl std::fmt::Display for Declared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (on, name) in [(self.sql, "sql"), (self.files, "files"), (self.network, "network")] {
            if on {
                parts.push(name.to_string());
            }
        }
        if !self.env.is_empty() {
            parts.push(format!("env [{}]", self.env.join(", ")));
        }
        if parts.is_empty() {
            return f.write_str("nothing");
        }
        f.write_str(&parts.join(", "))
    }
}

/// Why a declaration cannot be added to a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclareError {
    #[error("{0}: not a WebAssembly component ({1}); declare capabilities on the component a build produced")]
    NotAComponent(String, &'static str),
    #[error("{0} already declares {1}; declare on the component as built (the declaration is made once)")]
    AlreadyDeclared(String, Declared),
    #[error("environment variable name {0:?} is not allowed: use letters, digits and '_'")]
    BadEnvName(String),
}

impl Declared {
    /// The declaration's text, as the section holds it: `sql files network env=A,B`.
    pub fn text(&self) -> String {
        let mut words = Vec::new();
        for (on, name) in [(self.sql, "sql"), (self.files, "files"), (self.network, "network")] {
            if on {
                words.push(name.to_string());
            }
        }
        if !self.env.is_empty() {
            words.push(format!("env={}", self.env.join(",")));
        }
        words.join(" ")
    }

    /// `component` (the bytes of file `name`) with this declaration appended as its
    /// [`CAPABILITIES_SECTION`] custom section: how a plugin built without the Rust SDK (Python,
    /// JavaScript) says what it needs. Refused on a component that already declares something.
    pub fn append_to(&self, name: &str, component: &[u8]) -> Result<Vec<u8>, DeclareError> {
        let format = Format::of(component);
        if format != Format::Component {
            return Err(DeclareError::NotAComponent(name.to_string(), format.describe()));
        }
        if let Some(bad) =
            self.env.iter().find(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(DeclareError::BadEnvName(bad.clone()));
        }
        let existing = Declared::of(component);
        if !existing.is_empty() || !existing.unknown.is_empty() {
            return Err(DeclareError::AlreadyDeclared(name.to_string(), existing));
        }
        let text = self.text();
        let mut body = Vec::new();
        leb128(&mut body, CAPABILITIES_SECTION.len());
        body.extend_from_slice(CAPABILITIES_SECTION.as_bytes());
        body.extend_from_slice(text.as_bytes());
        let mut out = component.to_vec();
        out.push(0); // a custom section
        leb128(&mut out, body.len());
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// `n` as unsigned LEB128.
fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_appended_to_a_component_is_read_back_and_made_once() {
        let component = crate::builtin::PLUGINS.iter().find(|p| p.name == "all-at-once").unwrap().bytes;
        assert!(Declared::of(component).is_empty());
        let want = Declared { files: true, sql: true, env: vec!["A_B".into(), "C".into()], ..Declared::default() };
        let declared = want.append_to("x.wasm", component).unwrap();
        assert_eq!(Declared::of(&declared), want);
        assert_eq!(Format::of(&declared), Format::Component);
        assert!(matches!(want.append_to("x.wasm", &declared), Err(DeclareError::AlreadyDeclared(..))));
        assert!(matches!(want.append_to("x.wasm", b"\0asm\x01\0\0\0"), Err(DeclareError::NotAComponent(..))));
        let bad = Declared { env: vec!["A=B".into()], ..Declared::default() };
        assert_eq!(bad.append_to("x", component), Err(DeclareError::BadEnvName("A=B".into())));
        // A long declaration needs a multi-byte section size.
        let long = Declared { env: (0..100).map(|i| format!("VAR_{i}")).collect(), ..Declared::default() };
        assert_eq!(Declared::of(&long.append_to("x", component).unwrap()), long);
    }

    #[test]
    fn digest_round_trips_through_hex_with_or_without_prefix() {
        let d = Digest::of(b"abc");
        assert_eq!(d.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Digest::parse(&d.to_hex()), Some(d));
        assert_eq!(Digest::parse(&format!("sha256:{d}")), Some(d));
        assert_eq!(Digest::parse("abc"), None);
    }

    #[test]
    fn declarations_parse_words_and_env_lists() {
        let mut d = Declared::default();
        d.add("sql files env=\"REGION\",\"TIER\", teleport ");
        assert!(d.sql && d.files && !d.network);
        assert_eq!(d.env, vec!["REGION", "TIER"]);
        assert_eq!(d.unknown, vec!["teleport"]);
        assert_eq!(d.to_string(), "sql, files, env [REGION, TIER]");
        assert!(Declared::default().is_empty());
    }

    #[test]
    fn formats_are_told_apart_by_header() {
        assert_eq!(Format::of(b"\0asm\x01\0\0\0rest"), Format::CoreModule);
        assert_eq!(Format::of(b"\0asm\x0d\0\x01\0rest"), Format::Component);
        assert_eq!(Format::of(b"\0asm\x02\0\0\0"), Format::UnknownWasm);
        assert_eq!(Format::of(b"#!/bin/sh\n"), Format::NotWasm);
        assert_eq!(Format::of(b""), Format::NotWasm);
    }
}
