//! Durations and sizes as users write them.
//!
//! Durations use Go's `time.ParseDuration` syntax, because that is what existing apirun files
//! contain (`timeout: 300s`, `interval: 2s`, `1m30s`). Unlike the Go original, a value that does
//! not parse is an error, never a silent fallback to the default.

use std::time::Duration;

/// Why a duration did not parse; the message completes "invalid duration for `x`: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("the value is empty")]
    Empty,
    #[error("`{0}` is negative")]
    Negative(String),
    #[error("`{0}` has a number without a unit")]
    MissingUnit(String),
    #[error("`{text}` has an unknown unit `{unit}`")]
    UnknownUnit { text: String, unit: String },
    #[error("`{0}` is not a duration")]
    Invalid(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// Parse a Go-style duration: a sequence of decimal numbers (fractions allowed) each followed
/// by a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `300s`, `1m30s`, `1.5h`, `500ms`. A bare
/// `0` is zero. Negative durations are refused: nothing in apirun waits a negative time.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let original = text.trim();
    let mut s = original;
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Some(rest) = s.strip_prefix('-') {
        if rest == "0" {
            return Ok(Duration::ZERO);
        }
        return Err(DurationError::Negative(original.to_string()));
    }
    s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::Invalid(original.to_string()));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(DurationError::Invalid(original.to_string()));
        }
        let unit_len = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let per_unit: u128 = match unit {
            "" => return Err(DurationError::MissingUnit(original.to_string())),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            other => {
                return Err(DurationError::UnknownUnit {
                    text: original.to_string(),
                    unit: other.trim().to_string(),
                });
            }
        };
        let overflow = || DurationError::Overflow(original.to_string());
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut nanos = whole.checked_mul(per_unit).ok_or_else(overflow)?;
        // Fractions below a nanosecond are dropped, as Go does.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        if !frac_digits.is_empty() {
            let frac: u128 = frac_digits.parse().map_err(|_| overflow())?;
            let scale = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| overflow())?);
            nanos = nanos
                .checked_add(frac * per_unit / scale)
                .ok_or_else(overflow)?;
        }
        total = total.checked_add(nanos).ok_or_else(overflow)?;
    }
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| DurationError::Overflow(original.to_string()))?;
    let sub = u32::try_from(total % 1_000_000_000)
        .map_err(|_| DurationError::Overflow(original.to_string()))?;
    Ok(Duration::new(secs, sub))
}

/// Parse a memory size: a whole number of bytes, or a number with a unit: `KiB`, `MiB`, `GiB`
/// (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000), case-insensitive, e.g. `64MiB`.
pub(crate) fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 {
        return Err(format!("`{t}` is not a size"));
    }
    let number: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("`{t}` is too large"))?;
    let unit = t[digits..].trim().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "`{t}` has an unknown unit `{}`",
                &t[digits..].trim()
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{t}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(
            parse_duration("1h2m3s4ms5us6ns"),
            Ok(Duration::new(3723, 4_005_006))
        );
        assert_eq!(parse_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("+2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.0000000001s"), Ok(Duration::new(1, 0)));
    }

    #[test]
    fn refuses_what_go_would_silently_default() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("60"),
            Err(DurationError::MissingUnit("60".into()))
        );
        assert_eq!(
            parse_duration("1m30"),
            Err(DurationError::MissingUnit("1m30".into()))
        );
        assert_eq!(
            parse_duration("5 sec"),
            Err(DurationError::UnknownUnit {
                text: "5 sec".into(),
                unit: "sec".into()
            })
        );
        assert_eq!(
            parse_duration("-5s"),
            Err(DurationError::Negative("-5s".into()))
        );
        assert_eq!(parse_duration("s"), Err(DurationError::Invalid("s".into())));
        assert_eq!(parse_duration("."), Err(DurationError::Invalid(".".into())));
        assert!(matches!(
            parse_duration("99999999999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
        assert_eq!(
            DurationError::MissingUnit("60".into()).to_string(),
            "`60` has a number without a unit"
        );
    }

    #[test]
    fn parses_byte_sizes() {
        assert_eq!(parse_byte_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_byte_size("64 mib"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_byte_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_byte_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_byte_size("512KiB"), Ok(512 * 1024));
        assert_eq!(
            parse_byte_size("64M"),
            Err("`64M` has an unknown unit `M`".into())
        );
        assert_eq!(parse_byte_size("MiB"), Err("`MiB` is not a size".into()));
    }
}
