//! Durations as users type them: `90`, `90s`, `15m`, `1h`, `2d`.

use std::time::Duration;

/// The longest duration accepted: 100 years. "Never" in practice, and every moment it
/// leads to stays printable.
const MAX_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

/// Parses whole seconds, or a number with a unit `s`, `m`, `h` or `d`. Negative, empty
/// and malformed values are errors; the caller (clap) names the option.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let text = value.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("`{value}` has an unknown unit (use s, m, h or d)")),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "`{value}` is not a duration like 90, 90s, 15m, 1h or 2d"
        ));
    }
    let amount: f64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration like 90, 90s, 15m, 1h or 2d"))?;
    let seconds = amount * seconds_per_unit;
    if seconds > MAX_SECONDS {
        return Err(format!("`{value}` is too long (at most 100 years)"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{value}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_seconds_and_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn rejects_negative_empty_and_malformed() {
        for bad in [
            "", " ", "-5", "-5s", "5x", "s", "1h30m", "1e3", "abc", "1..2", "36501d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
