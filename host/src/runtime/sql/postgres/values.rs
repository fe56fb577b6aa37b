//! The contract's database-neutral values on PostgreSQL. A parameter binds to whatever type the
//! server inferred for it: integers, floats and blobs in binary where the type is theirs, anything
//! else as text the server parses (so `'2024-01-01'` binds to a `date`). A result value is read from
//! its binary form: booleans and integers as integers, floats as reals, `numeric` as its exact
//! decimal text, dates and times as ISO text (UTC), text-like, JSON, UUID and enum values as text,
//! `bytea` as a blob, `void` as null; any other type is refused with the cast that fixes it.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::runtime::bindings::target::upshift::plugin::sql::Value;

type BoxError = Box<dyn Error + Sync + Send>;

/// A plugin's parameter, bound to the type the server inferred for it.
#[derive(Debug)]
pub struct Param(pub Value);

/// Whether `value` is sent in binary for a parameter of type `ty` (else as text).
fn binary(value: &Value, ty: &Type) -> bool {
    match value {
        Value::Null => true,
        Value::Integer(_) => [Type::INT2, Type::INT4, Type::INT8, Type::FLOAT4, Type::FLOAT8, Type::BOOL].contains(ty),
        Value::Real(_) => [Type::FLOAT4, Type::FLOAT8].contains(ty),
        Value::Blob(_) => true,
        Value::Text(_) => false,
    }
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let out_of_range = |v: &dyn std::fmt::Display| -> BoxError { format!("{v} does not fit type {ty}").into() };
        match &self.0 {
            Value::Null => return Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT2 => out.put_i16(i16::try_from(*i).map_err(|_| out_of_range(i))?),
                Type::INT4 => out.put_i32(i32::try_from(*i).map_err(|_| out_of_range(i))?),
                Type::INT8 => out.put_i64(*i),
                Type::FLOAT4 => out.put_f32(*i as f32),
                Type::FLOAT8 => out.put_f64(*i as f64),
                Type::BOOL => match i {
                    0 | 1 => out.put_u8(*i as u8),
                    _ => return Err(out_of_range(i)),
                },
                _ => out.put_slice(i.to_string().as_bytes()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => out.put_f32(*f as f32),
                Type::FLOAT8 => out.put_f64(*f),
                _ => out.put_slice(f.to_string().as_bytes()),
            },
            Value::Text(s) => out.put_slice(s.as_bytes()),
            Value::Blob(b) if *ty == Type::BYTEA => out.put_slice(b),
            Value::Blob(_) => return Err(format!("a blob binds only to a bytea parameter, not to {ty}").into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        if binary(&self.0, ty) { Format::Binary } else { Format::Text }
    }

    to_sql_checked!();
}

/// A result value as the server sent it (binary format), not yet decoded.
pub struct Raw<'a>(pub &'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Why a column cannot be handed to a plugin.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// The types [`decode`] reads, besides enums and domains over them.
const READABLE: &[Type] = &[
    Type::BOOL,
    Type::INT2,
    Type::INT4,
    Type::INT8,
    Type::OID,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::NUMERIC,
    Type::TEXT,
    Type::VARCHAR,
    Type::BPCHAR,
    Type::NAME,
    Type::UNKNOWN,
    Type::JSON,
    Type::XML,
    Type::CHAR,
    Type::JSONB,
    Type::BYTEA,
    Type::UUID,
    Type::DATE,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
    Type::TIME,
    Type::VOID,
];

/// Whether a column of type `ty` can be handed to a plugin (checked before a query runs).
pub fn readable(ty: &Type) -> Result<(), Unsupported> {
    match ty.kind() {
        _ if READABLE.contains(ty) => Ok(()),
        Kind::Enum(_) => Ok(()),
        Kind::Domain(base) => readable(base),
        _ => Err(Unsupported(format!("type {ty} is not one the host hands to plugins; cast it to text (`::text`)"))),
    }
}

/// The value of a column of type `ty` from its binary form.
pub fn decode(ty: &Type, raw: &[u8]) -> Result<Value, Unsupported> {
    let bad = || Unsupported(format!("a malformed {ty} value"));
    let int = |n: usize| -> Result<i64, Unsupported> {
        let bytes = raw.get(..n).filter(|_| raw.len() == n).ok_or_else(bad)?;
        Ok(bytes.iter().fold(if bytes[0] & 0x80 != 0 { -1i64 } else { 0 }, |acc, b| (acc << 8) | i64::from(*b)))
    };
    let text = || String::from_utf8(raw.to_vec()).map(Value::Text).map_err(|_| bad());
    Ok(match *ty {
        Type::BOOL => Value::Integer(i64::from(raw.first().copied().ok_or_else(bad)? != 0)),
        Type::INT2 => Value::Integer(int(2)?),
        Type::INT4 => Value::Integer(int(4)?),
        Type::INT8 => Value::Integer(int(8)?),
        Type::OID => Value::Integer(int(4)? & 0xffff_ffff),
        Type::FLOAT4 => Value::Real(f64::from(f32::from_be_bytes(raw.try_into().map_err(|_| bad())?))),
        Type::FLOAT8 => Value::Real(f64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        Type::NUMERIC => Value::Text(numeric(raw).ok_or_else(bad)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON | Type::XML => text()?,
        Type::CHAR => Value::Text(String::from_utf8_lossy(raw).into_owned()),
        Type::JSONB => match raw.split_first() {
            Some((1, json)) => Value::Text(String::from_utf8(json.to_vec()).map_err(|_| bad())?),
            _ => return Err(bad()),
        },
        Type::BYTEA => Value::Blob(raw.to_vec()),
        Type::UUID => {
            let hex = hex::encode(raw);
            if hex.len() != 32 {
                return Err(bad());
            }
            Value::Text(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
        }
        Type::DATE => Value::Text(date(int(4)?)),
        Type::TIMESTAMP => Value::Text(timestamp(int(8)?, "")),
        Type::TIMESTAMPTZ => Value::Text(timestamp(int(8)?, "+00")),
        Type::TIME => Value::Text(time_of_day(int(8)?)),
        // What `SELECT pg_notify(...)` or `SELECT pg_sleep(...)` returns: nothing.
        Type::VOID => Value::Null,
        _ => match ty.kind() {
            Kind::Enum(_) => text()?,
            Kind::Domain(base) => return decode(base, raw),
            _ => return readable(ty).and(Err(bad())),
        },
    })
}

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;
/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const POSTGRES_EPOCH_DAYS: i64 = 10_957;

/// A `date` (days since 2000-01-01) as `YYYY-MM-DD`.
fn date(days: i64) -> String {
    match days {
        i64::MAX | 0x7fff_ffff => "infinity".into(),
        i64::MIN | -0x8000_0000 => "-infinity".into(),
        _ => civil_date(days + POSTGRES_EPOCH_DAYS),
    }
}

/// A `timestamp` (microseconds since 2000-01-01) as `YYYY-MM-DD HH:MM:SS[.ffffff]`, with `zone` after.
fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ => {
            let days = micros.div_euclid(DAY_MICROS);
            let rest = micros.rem_euclid(DAY_MICROS);
            format!("{} {}{zone}", civil_date(days + POSTGRES_EPOCH_DAYS), time_of_day(rest))
        }
    }
}

/// Microseconds since midnight as `HH:MM:SS[.ffffff]`.
fn time_of_day(micros: i64) -> String {
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 { clock } else { format!("{clock}.{}", format!("{frac:06}").trim_end_matches('0')) }
}

/// Days since 1970-01-01 as a proleptic Gregorian `YYYY-MM-DD` (Howard Hinnant's civil-from-days).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if year <= 0 { format!("{:04}-{month:02}-{day:02} BC", 1 - year) } else { format!("{year:04}-{month:02}-{day:02}") }
}

/// A `numeric` from its binary form (base-10000 digits with a weight, a sign and a display scale)
/// as exact decimal text, as PostgreSQL prints it.
fn numeric(raw: &[u8]) -> Option<String> {
    let word = |i: usize| raw.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let (ndigits, weight, sign, dscale) = (word(0)? as usize, word(1)? as i16, word(2)?, word(3)? as usize);
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let digits: Vec<u16> = (0..ndigits).map(|i| word(4 + i)).collect::<Option<_>>()?;
    if digits.iter().any(|d| *d > 9999) {
        return None;
    }
    let at = |i: i64| -> u16 { usize::try_from(i).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0) };
    // Digit group k (from the most significant) stands for 10000^(weight - k).
    let weight = i64::from(weight);
    let mut out = String::new();
    if sign == 0x4000 && digits.iter().any(|d| *d != 0) {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for k in 0..=weight {
            let group = at(k);
            if k == 0 { out.push_str(&group.to_string()) } else { out.push_str(&format!("{group:04}")) }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut fraction = String::new();
        let mut k = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", at(k)));
            k += 1;
        }
        fraction.truncate(dscale);
        out.push_str(&fraction);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(ndigits: &[u16], weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits.len() as u16, weight as u16, sign, dscale].into_iter().chain(ndigits.iter().copied()) {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_read_as_exact_decimal_text() {
        assert_eq!(numeric(&numeric_bytes(&[], 0, 0, 0)).unwrap(), "0");
        assert_eq!(numeric(&numeric_bytes(&[1000], 0, 0, 0)).unwrap(), "1000");
        assert_eq!(numeric(&numeric_bytes(&[123, 4500], 0, 0, 4)).unwrap(), "123.4500");
        assert_eq!(numeric(&numeric_bytes(&[10], -1, 0x4000, 3)).unwrap(), "-0.001");
        assert_eq!(numeric(&numeric_bytes(&[1], 5, 0, 0)).unwrap(), "100000000000000000000");
        assert_eq!(numeric(&numeric_bytes(&[12, 3456, 7800], 1, 0, 2)).unwrap(), "123456.78");
        assert_eq!(numeric(&numeric_bytes(&[], 0, 0xC000, 0)).unwrap(), "NaN");
    }

    #[test]
    fn dates_and_times_read_as_iso_text() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(9_000), "2024-08-22");
        assert_eq!(timestamp(DAY_MICROS + 3_723_500_000, "+00"), "2000-01-02 01:02:03.5+00");
        assert_eq!(time_of_day(0), "00:00:00");
        assert_eq!(timestamp(i64::MAX, ""), "infinity");
    }

    #[test]
    fn integers_and_booleans_decode_with_their_sign() {
        assert!(matches!(decode(&Type::INT4, &(-5i32).to_be_bytes()), Ok(Value::Integer(-5))));
        assert!(matches!(decode(&Type::INT8, &i64::MIN.to_be_bytes()), Ok(Value::Integer(i64::MIN))));
        assert!(matches!(decode(&Type::OID, &u32::MAX.to_be_bytes()), Ok(Value::Integer(4_294_967_295))));
        assert!(matches!(decode(&Type::BOOL, &[1]), Ok(Value::Integer(1))));
        assert!(decode(&Type::INT4, &[0, 1]).is_err());
        let why = decode(&Type::INT4_ARRAY, &[]).unwrap_err();
        assert!(why.0.contains("::text"), "{why:?}");
    }

    #[test]
    fn a_parameter_is_binary_where_its_type_is_ours_and_text_elsewhere() {
        let p = |v: Value, ty: Type| {
            let mut out = BytesMut::new();
            let p = Param(v);
            let format = p.encode_format(&ty);
            p.to_sql(&ty, &mut out).map(|_| (format, out.to_vec())).map_err(|e| e.to_string())
        };
        assert_eq!(p(Value::Integer(7), Type::INT4).unwrap().1, vec![0, 0, 0, 7]);
        assert!(p(Value::Integer(1 << 40), Type::INT4).unwrap_err().contains("does not fit type int4"));
        assert!(matches!(p(Value::Integer(7), Type::NUMERIC).unwrap(), (Format::Text, t) if t == b"7"));
        assert!(matches!(p(Value::Text("2024-01-01".into()), Type::DATE).unwrap(), (Format::Text, _)));
        assert!(p(Value::Blob(vec![1]), Type::TEXT).unwrap_err().contains("bytea"));
    }
}
