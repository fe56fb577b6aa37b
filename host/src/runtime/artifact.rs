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

#[cfg(test)]
mod tests {
    use super::*;

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
